"""Online garbage collection for the registry: mark from manifests, sessions and pins; sweep with a grace.

Runs while servers (any number of replicas sharing the catalog and backend) serve; there is no
read-only mode. The promise it keeps: a manifest PUT that returned 201 stays fully pullable, from
every replica, whatever the grace and however a sweep is interleaved or killed.

- A push pins its digest before it stores bytes and links the blob, dropping the pin, only if the
  pin survived (``registry.ociserver.blob_commit``). A manifest is accepted only if each blob is
  linked into its repository, checked under the writer lock in the transaction that records it; a
  link always means "live row, bytes stored" (foreign key to the row, see ``registry_tables``).
- Phase 1 (one writer-locked transaction): drop expired pins; take blobs that no manifest references,
  no push pins and nobody touched within ``grace``; drop their links and mark their rows
  ``deleting`` (a tombstone). From this commit on they are absent for every replica: a manifest
  naming one gets ``MANIFEST_BLOB_UNKNOWN`` and the client pushes the blob again.
- Phase 2 (writer-locked batches): for rows *still* tombstoned, delete the bytes, then the rows, in
  the same transaction. A push of the same digest revives the row (under the lock) before it looks
  at the backend, so bytes a push relies on are never deleted; a crash (SIGKILL) anywhere leaves
  tombstoned rows whose bytes may be gone, which count as absent and are finished by the next run.
- Backend bytes with no row at all (an interrupted put) are deleted under the lock.
- Upload sessions keep their data in the spool, not the backend; idle ones are purged by age.
"""

from __future__ import annotations

import asyncio
import functools
import os
import time
from dataclasses import dataclass, field
from typing import Any

from registry.oci.digest import Digest
from registry.ociserver.store import RegistryStore
from registry.store.blobs.backend import BlobBackend
from registry.store.catalog import RegistryCatalog, RegistryGcQueries

__all__ = ["GcReport", "collect_garbage"]

_BATCH = 100  # tombstoned blobs deleted per writer-locked transaction


@dataclass
class GcReport:
    """What a GC run removed (or, in a dry run, would remove)."""

    dry_run: bool
    blobs: list[Digest] = field(default_factory=list)
    bytes_freed: int = 0
    orphan_files: list[Digest] = field(default_factory=list)
    uploads_purged: int = 0

    def to_json(self) -> dict[str, Any]:
        """A JSON-friendly summary."""
        return {
            "dry_run": self.dry_run,
            "blobs_removed": len(self.blobs),
            "bytes_freed": self.bytes_freed,
            "orphan_files_removed": len(self.orphan_files),
            "uploads_purged": self.uploads_purged,
            "blobs": [str(d) for d in self.blobs],
        }


async def collect_garbage(
    store: RegistryStore,
    *,
    grace: float,
    upload_max_age: float,
    dry_run: bool = False,
    now: float | None = None,
    sweep_blobs: bool = True,
) -> GcReport:
    """Sweep unreferenced blobs older than ``grace`` and sessions idle longer than ``upload_max_age``.

    ``sweep_blobs=False`` only purges stale upload sessions (what the server does when periodic GC
    is off).

    Idempotent; safe to run concurrently with pushes, pulls and other GC runs (they serialise on
    the catalog's writer lock). Returns a report; prints nothing.
    """
    now = time.time() if now is None else now
    report = GcReport(dry_run=dry_run)

    def mark(conn: Any) -> list[tuple[Digest, int]]:
        if dry_run:
            return RegistryGcQueries.sweepable_blobs(conn, now - grace, now)
        RegistryGcQueries.drop_expired_pins(conn, now)
        candidates = RegistryGcQueries.sweepable_blobs(conn, now - grace, now)
        RegistryGcQueries.tombstone_blobs(conn, [d for d, _ in candidates])
        return candidates

    if sweep_blobs:
        candidates = await store.write(mark)
        report.blobs = [d for d, _ in candidates]
        report.bytes_freed = sum(size for _, size in candidates)
        if not dry_run:
            await _delete_tombstoned(store, report)
        await _sweep_orphan_files(store, report, dry_run)
    report.uploads_purged = await _purge_uploads(store, now - upload_max_age, dry_run)
    return report


def _delete_bytes(backend: BlobBackend, digests: list[Digest]) -> None:
    """Delete backend bytes from a worker thread that holds the writer lock.

    On an event loop of its own: handing the calls to the server's loop would need a thread of its
    default executor, and those may all be waiting for the very lock this thread holds (a deadlock
    seen with 8 pushers on PostgreSQL).
    """

    async def run() -> None:
        for digest in digests:
            await backend.delete(digest)

    if digests:
        asyncio.run(run())


async def _delete_tombstoned(store: RegistryStore, report: GcReport) -> None:
    """Phase 2: bytes, then rows, of every tombstoned blob (this run's and any interrupted run's)."""
    marked = set(report.blobs)

    def batch(conn: Any) -> int:
        doomed = RegistryGcQueries.tombstoned_blobs(conn, _BATCH)
        _delete_bytes(store.backend, [d for d, _ in doomed])
        for digest, size in doomed:
            if digest not in marked:  # left by an interrupted earlier sweep
                report.blobs.append(digest)
                report.bytes_freed += size
        RegistryGcQueries.forget_tombstoned(conn, [d for d, _ in doomed])
        return len(doomed)

    while await store.write(batch) == _BATCH:
        pass


async def _sweep_orphan_files(store: RegistryStore, report: GcReport, dry_run: bool) -> None:
    """Delete backend bytes that have no catalog row (a put whose row a sweep already forgot)."""
    stored = await store.backend.list_digests()
    if not stored:
        return

    def run(conn: Any) -> None:
        recorded = RegistryGcQueries.recorded_digests(conn, stored)
        report.orphan_files = [d for d in stored if d not in recorded]
        if not dry_run:
            _delete_bytes(store.backend, report.orphan_files)

    await store.write(run)


async def _purge_uploads(store: RegistryStore, idle_before: float, dry_run: bool) -> int:
    stale = await store.read(lambda c: RegistryCatalog.stale_uploads(c, idle_before))
    if dry_run:
        return len(stale)
    for upload_id in stale:
        await store.write(functools.partial(_delete_upload, upload_id=upload_id))
        store.spool.discard(upload_id)
    live = await store.read(RegistryCatalog.upload_ids)
    for entry in os.scandir(store.spool.directory):
        if entry.name not in live and entry.stat().st_mtime < idle_before:
            os.unlink(entry.path)  # data of a session whose row never got written
    return len(stale)


def _delete_upload(conn: Any, upload_id: str) -> bool:
    return RegistryCatalog.delete_upload(conn, upload_id)
