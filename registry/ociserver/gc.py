"""Online garbage collection for the registry: mark from manifests and sessions, sweep with a grace period.

Runs while the server serves; there is no read-only mode. Safety argument:

- A push records (touches) its blob row *before* writing the bytes and links it *after*; a manifest
  is accepted only if its blobs are linked, checked in the same writer-locked transaction that
  records it. The sweep runs in one writer-locked transaction too, and only takes blobs that no
  manifest references **and** that nobody touched within ``grace`` seconds. So a blob pushed
  moments ago whose manifest has not arrived yet is spared, and a manifest can never be accepted
  for a blob the sweep is deleting (it would see the link gone and answer MANIFEST_BLOB_UNKNOWN,
  and the client re-pushes).
- Bytes are deleted while the transaction (and lock) is held, so a concurrent re-upload of the same
  digest, which must touch the row under the same lock first, happens entirely before or after.
- Upload sessions keep their data in the spool, not the backend; idle ones are purged by age.
"""

from __future__ import annotations

import asyncio
import functools
import os
import time
from dataclasses import dataclass, field
from typing import Any

from registry.catalog import RegistryCatalog
from registry.oci.digest import Digest
from registry.ociserver.store import RegistryStore

__all__ = ["GcReport", "collect_garbage"]


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
    loop = asyncio.get_running_loop()

    def sweep(conn: Any) -> None:
        candidates = RegistryCatalog.sweepable_blobs(conn, now - grace)
        report.blobs = [d for d, _ in candidates]
        report.bytes_freed = sum(size for _, size in candidates)
        if dry_run or not candidates:
            return
        RegistryCatalog.forget_blobs(conn, report.blobs)
        for digest in report.blobs:
            asyncio.run_coroutine_threadsafe(store.backend.delete(digest), loop).result()

    if sweep_blobs:
        await store.write(sweep)
        await _sweep_orphan_files(store, report, loop, dry_run)
    report.uploads_purged = await _purge_uploads(store, now - upload_max_age, dry_run)
    return report


async def _sweep_orphan_files(
    store: RegistryStore, report: GcReport, loop: asyncio.AbstractEventLoop, dry_run: bool
) -> None:
    """Delete backend bytes that have no catalog row (left by an interrupted earlier sweep)."""
    stored = await store.backend.list_digests()
    if not stored:
        return

    def run(conn: Any) -> None:
        for digest in stored:
            if RegistryCatalog.blob_size(conn, digest) is None:
                report.orphan_files.append(digest)
                if not dry_run:
                    asyncio.run_coroutine_threadsafe(store.backend.delete(digest), loop).result()

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
