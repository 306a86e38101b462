"""One mark-and-sweep for both programs' stores: the sweep loop, the grace rule, dry runs and the report.

The local library (``ollama-py prune``, :mod:`registry.store.library.gc`) and the registry server
(``ollama-py registry gc`` and its periodic task, :mod:`registry.ociserver.gc`) collect garbage the
same way; each supplies only what differs as a :class:`GcProgram`: how to mark and claim (its catalog
queries), how to tell that a claim still holds, what its records need once the bytes are gone, which
stored bytes no record owns, and its own extra debris (partial downloads, upload sessions).

A run (:func:`collect`), in this order:

1. **Mark and claim**, in one transaction under the catalog's writer lock: the program drops expired
   protections (leases, pins), marks everything still needed, and claims the blobs that nothing
   marks and whose last change is past the grace (:class:`Sweep`). Claiming makes a blob absent to
   every reader from the commit on (the library forgets its row; the registry tombstones it).
2. **Sweep the claimed blobs**, in writer-locked batches of :data:`BATCH`: in each, the program says
   which claims still hold (no push revived the blob, no row came back), their bytes are deleted
   through the store contract (:meth:`BlobBackend.delete
   <registry.store.blobs.backend.BlobBackend.delete>`), then the program forgets what is left of
   their records, all in that one transaction. A crash anywhere leaves claims whose bytes may be
   gone; they count as absent, and the next run (or the library's orphan sweep) finishes them.
3. **Sweep orphan bytes**: the program walks its store (the registry through
   :meth:`~registry.store.blobs.backend.BlobBackend.list_digests`) and picks the stored digests it
   may collect (no record; past the grace where its writers store bytes before the record); under
   the writer lock it re-checks that no record appeared, and their bytes are deleted.
4. **The program's extras** (:meth:`GcProgram.sweep_extras`).

A dry run marks and selects exactly as a real run does but claims, deletes and drops nothing (it
still takes the writer lock, to read a consistent catalog). Nothing here prints: a run returns a
:class:`GcReport`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from registry.oci.digest import Digest
from registry.store.blobs.backend import BlobBackend

__all__ = ["BATCH", "Claim", "GcProgram", "GcReport", "Sweep", "collect"]

BATCH = 100
"""Claimed blobs whose bytes one writer-locked transaction deletes (pushes wait meanwhile)."""

_T = TypeVar("_T")
_Conn = TypeVar("_Conn")


@dataclass(slots=True)
class GcReport:
    """What one collection removed (or, in a dry run, would remove), in either program.

    Fields a program has nothing for stay at their zero value (the registry has no partial
    downloads, the library no upload sessions).
    """

    dry_run: bool
    """True when nothing was removed: every count says what a real run would have removed."""
    blobs_removed: list[Digest] = field(default_factory=list)
    """Blobs that nothing marked, past the grace, whose bytes went (or would go): the claims."""
    bytes_freed: int = 0
    """Sizes of everything counted here, as recorded (blobs) or as stat'ed (files); bytes of a
    registry orphan count 0 (the store's walk does not say their size)."""
    blobs_total: int | None = None
    """Blob records the library's mark looked at; None for the registry (its mark selects the
    candidates in the catalog and counts nothing)."""
    orphan_files_removed: int = 0
    """Stored files no record owned (a crash between storing bytes and recording them), and, in the
    library, stray files under ``blobs/`` whose names are no digest."""
    partials_removed: int = 0
    """The library's partial downloads, stale, unleased and not open in any process."""
    temp_files_removed: int = 0
    """The library's temporary files, stale and not open in any process."""
    uploads_purged: int = 0
    """The registry's upload sessions idle longer than ``upload_max_age``."""
    compat_files_removed: int = 0
    """The library's llama.cpp translations (``compat/``) of blobs no model uses any more."""

    @property
    def blobs(self) -> list[Digest]:
        """:attr:`blobs_removed`, under the name of the registry's JSON report (``blobs``)."""
        return self.blobs_removed

    @property
    def items_removed(self) -> int:
        """Everything removed (or, in a dry run, that would be)."""
        return (
            len(self.blobs_removed)
            + self.orphan_files_removed
            + self.partials_removed
            + self.temp_files_removed
            + self.uploads_purged
            + self.compat_files_removed
        )

    def to_json(self) -> dict[str, Any]:
        """The summary ``ollama-py registry gc --json`` prints (and the registry's plain line reads)."""
        return {
            "dry_run": self.dry_run,
            "blobs_removed": len(self.blobs_removed),
            "bytes_freed": self.bytes_freed,
            "orphan_files_removed": self.orphan_files_removed,
            "uploads_purged": self.uploads_purged,
            "blobs": [str(d) for d in self.blobs_removed],
        }


@dataclass(frozen=True, slots=True)
class Sweep:
    """When a run looks and whether it removes: the grace rule, in one place.

    Anything whose last change (a blob row's creation or touch, a file's mtime or ctime) is at or
    after :attr:`cutoff` is work that may still be in flight and holds no lease or pin, and is kept.
    """

    now: float
    grace: float
    dry_run: bool = False

    @property
    def cutoff(self) -> float:
        """``now - grace``: only what last changed strictly before it may be collected."""
        return self.now - self.grace

    def past_grace(self, last_change: float) -> bool:
        """True when something that last changed at ``last_change`` may be collected."""
        return last_change < self.cutoff


@dataclass(frozen=True, slots=True)
class Claim:
    """What mark-and-claim took: unmarked blobs past the grace (claimed unless the run is dry)."""

    blobs: list[tuple[Digest, int]]
    """``(digest, recorded size)`` of every blob this run will sweep, in the order to report them."""
    total: int | None = None
    """How many blob records the mark looked at, when the program counts them."""


class GcProgram(Protocol[_Conn]):
    """What one program supplies to :func:`collect`. One object per run: it may keep what its mark
    found (e.g. the marked set) for the later steps of the same run.

    ``_Conn`` is the program's catalog connection; methods that take one run inside :meth:`locked`.
    """

    @property
    def backend(self) -> BlobBackend:
        """The store the bytes live in: the sweep deletes through it."""
        ...

    async def locked(self, work: Callable[[_Conn], _T]) -> _T:
        """Run ``work`` in one write transaction under the catalog's writer lock, in a worker thread
        that runs no event loop (the sweep deletes bytes from there, on an event loop of its own)."""
        ...

    def claim(self, conn: _Conn, sweep: Sweep) -> Claim:
        """Step 1: unless dry run, drop expired protections; mark; select every blob nothing marks
        whose last change is past the grace; unless dry run, claim them (absent from the commit on).

        Raises whatever says the catalog cannot be trusted to mark (then nothing is collected).
        """
        ...

    def still_claimed(self, conn: _Conn, digests: Sequence[Digest]) -> set[Digest]:
        """Step 2: which of this run's claims still hold, so their bytes may go now."""
        ...

    def forget(self, conn: _Conn, digests: Sequence[Digest]) -> None:
        """Step 2, after the bytes of ``digests`` were deleted: drop what is left of their records."""
        ...

    async def orphan_candidates(self, sweep: Sweep) -> list[tuple[Digest, int]]:
        """Step 3, without the lock: walk the store; the stored digests that may be orphans, with
        their sizes (0 when unknown). Where bytes are stored before their record, only those past
        the grace."""
        ...

    def unrecorded(self, conn: _Conn, candidates: Sequence[Digest]) -> set[Digest]:
        """Step 3, under the lock: which ``candidates`` still have no record, so their bytes may go."""
        ...

    async def sweep_extras(self, sweep: Sweep, report: GcReport) -> None:
        """Step 4: the program's own debris (counted into ``report``)."""
        ...


async def collect(program: GcProgram[_Conn], sweep: Sweep) -> GcReport:
    """One collection run (see the module docstring); returns what it removed or would remove.

    Idempotent, and safe while the program's writers and other runs work on the same store: every
    decision to delete bytes is taken and acted on inside one writer-locked transaction.
    """
    report = GcReport(dry_run=sweep.dry_run)
    claim = await program.locked(lambda conn: program.claim(conn, sweep))
    report.blobs_total = claim.total
    if sweep.dry_run:
        swept = claim.blobs
    else:
        swept = await _sweep_claimed(program, claim.blobs)
    report.blobs_removed = [digest for digest, _ in swept]
    report.bytes_freed = sum(size for _, size in swept)
    await _sweep_orphans(program, sweep, report)
    await program.sweep_extras(sweep, report)
    return report


async def _sweep_claimed(
    program: GcProgram[_Conn], claimed: list[tuple[Digest, int]]
) -> list[tuple[Digest, int]]:
    """Step 2: bytes, then records, of every claim that still holds, :data:`BATCH` per transaction."""
    swept: list[tuple[Digest, int]] = []
    for start in range(0, len(claimed), BATCH):
        batch = claimed[start : start + BATCH]

        def sweep_batch(conn: _Conn, batch: list[tuple[Digest, int]] = batch) -> list[tuple[Digest, int]]:
            holding = program.still_claimed(conn, [digest for digest, _ in batch])
            doomed = [(digest, size) for digest, size in batch if digest in holding]
            _delete_bytes(program.backend, [digest for digest, _ in doomed])
            program.forget(conn, [digest for digest, _ in doomed])
            return doomed

        swept.extend(await program.locked(sweep_batch))
    return swept


async def _sweep_orphans(program: GcProgram[_Conn], sweep: Sweep, report: GcReport) -> None:
    """Step 3: stored bytes that no record owns, re-checked and deleted under the writer lock."""
    candidates = await program.orphan_candidates(sweep)
    if not candidates:
        return

    def sweep_orphans(conn: _Conn) -> list[tuple[Digest, int]]:
        orphans = program.unrecorded(conn, [digest for digest, _ in candidates])
        doomed = [(digest, size) for digest, size in candidates if digest in orphans]
        if not sweep.dry_run:
            _delete_bytes(program.backend, [digest for digest, _ in doomed])
        return doomed

    doomed = await program.locked(sweep_orphans)
    report.orphan_files_removed += len(doomed)
    report.bytes_freed += sum(size for _, size in doomed)


def _delete_bytes(backend: BlobBackend, digests: Sequence[Digest]) -> None:
    """Delete blobs' bytes (the sweep's one call of :meth:`BlobBackend.delete`) from a worker thread
    that holds the writer lock.

    On an event loop of its own: handing the calls to a server's loop would need a thread of its
    default executor, and those may all be waiting for the very lock this thread holds (a deadlock
    seen with 8 pushers on PostgreSQL).
    """

    async def run() -> None:
        for digest in digests:
            await backend.delete(digest)

    if digests:
        asyncio.run(run())
