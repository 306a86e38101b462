"""The registry's side of the one mark-and-sweep (:mod:`registry.store.gc`): online, with pins and tombstones.

Runs while servers (any number of replicas sharing the catalog and backend) serve; there is no
read-only mode. The promise it keeps: a manifest PUT that returned 201 stays fully pullable, from
every replica, whatever the grace and however a sweep is interleaved or killed.

- A push pins its digest before it stores bytes and links the blob, dropping the pin, only if the
  pin survived (``registry.ociserver.blob_commit``). A manifest is accepted only if each blob is
  linked into its repository, checked under the writer lock in the transaction that records it; a
  link always means "live row, bytes stored" (foreign key to the row, see ``registry_tables``).
- Claim (one writer-locked transaction): drop expired pins; take blobs that no manifest references,
  no push pins and nobody touched within ``grace``; drop their links and mark their rows
  ``deleting`` (a tombstone). From this commit on they are absent for every replica: a manifest
  naming one gets ``MANIFEST_BLOB_UNKNOWN`` and the client pushes the blob again. Rows left
  tombstoned by an interrupted earlier run join this run's claim (after the new ones).
- Sweep (writer-locked batches): for rows *still* tombstoned, delete the bytes, then the rows, in
  the same transaction. A push of the same digest revives the row (under the lock) before it looks
  at the backend, so bytes a push relies on are never deleted; a crash (SIGKILL) anywhere leaves
  tombstoned rows whose bytes may be gone, which count as absent and are finished by the next run.
- Backend bytes with no row at all (an interrupted put) are deleted under the lock: a push records
  its row before it stores bytes, so no grace is needed for them.
- Upload sessions keep their data in the spool, not the backend; idle ones are purged by age.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from registry.oci.digest import Digest
from registry.ociserver.store import RegistryStore
from registry.store.blobs.backend import BlobBackend
from registry.store.catalog import RegistryCatalog, RegistryGcQueries
from registry.store.gc import Claim, GcReport, Sweep, collect

__all__ = ["RegistryGc", "collect_garbage"]

_T = TypeVar("_T")


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
    sweep = Sweep(now=time.time() if now is None else now, grace=grace, dry_run=dry_run)
    program = RegistryGc(store, upload_max_age)
    if sweep_blobs:
        return await collect(program, sweep)
    report = GcReport(dry_run=dry_run)
    await program.sweep_extras(sweep, report)
    return report


class RegistryGc:
    """The registry server's store as a :class:`~registry.store.gc.GcProgram`: its catalog's
    manifests, pins and tombstones mark and claim; its backend holds the bytes."""

    def __init__(self, store: RegistryStore, upload_max_age: float) -> None:
        self._store = store
        self._upload_max_age = upload_max_age

    @property
    def backend(self) -> BlobBackend:
        """The registry's backend (filesystem or S3)."""
        return self._store.backend

    async def locked(self, work: Callable[[Any], _T]) -> _T:
        """``work`` in one write transaction (the store-wide writer lock), in a worker thread."""
        return await self._store.write(work)

    def claim(self, conn: Any, sweep: Sweep) -> Claim:
        """Drop expired pins and tombstone the sweepable blobs (unless dry run); a real run also
        takes over the tombstones an interrupted earlier run left."""
        if sweep.dry_run:
            return Claim(RegistryGcQueries.sweepable_blobs(conn, sweep.cutoff, sweep.now))
        RegistryGcQueries.drop_expired_pins(conn, sweep.now)
        left_over = RegistryGcQueries.tombstoned_blobs(conn)
        candidates = RegistryGcQueries.sweepable_blobs(conn, sweep.cutoff, sweep.now)
        RegistryGcQueries.tombstone_blobs(conn, [d for d, _ in candidates])
        return Claim(candidates + left_over)

    def still_claimed(self, conn: Any, digests: Sequence[Digest]) -> set[Digest]:
        """Those ``digests`` whose rows are still tombstoned (a push revives a row it needs)."""
        return {d for d, _ in RegistryGcQueries.tombstoned_blobs(conn, digests)}

    def forget(self, conn: Any, digests: Sequence[Digest]) -> None:
        """Delete the tombstoned rows, now that their bytes are gone."""
        RegistryGcQueries.forget_tombstoned(conn, digests)

    async def orphan_candidates(self, sweep: Sweep) -> list[tuple[Digest, int]]:
        """Every stored blob, by the backend's walk (a push records its row first: no grace needed);
        sizes unknown (0)."""
        return [(d, 0) for d in await self.backend.list_digests()]

    def unrecorded(self, conn: Any, candidates: Sequence[Digest]) -> set[Digest]:
        """Those ``candidates`` with no blob row in any state."""
        return set(candidates) - RegistryGcQueries.recorded_digests(conn, candidates)

    async def sweep_extras(self, sweep: Sweep, report: GcReport) -> None:
        """Purge upload sessions idle since before ``now - upload_max_age``, and their spool data."""
        report.uploads_purged = await _purge_uploads(
            self._store, sweep.now - self._upload_max_age, sweep.dry_run
        )


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
