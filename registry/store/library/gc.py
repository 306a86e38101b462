"""The local library's side of the one mark-and-sweep (:mod:`registry.store.gc`): ``ollama-py prune``.

Mark: every digest a manifest references, every manifest, every live lease (one query each, under
the writer lock). Claim: the catalog rows of unmarked blobs created before the grace cut-off are
deleted in that transaction; their files go afterwards, in writer-locked batches, only where no row
came back meanwhile (the library's *blobs first, catalog last* order, see ``library.py``). Then:

1. files under ``blobs/`` with no catalog row (left by a crash between publish and record), unmarked
   and whose last change is past the grace (a blob published moments ago has no row *yet*);
2. stray files under ``blobs/`` whose names are no digest, past the grace;
3. partial downloads past the grace, not leased and not open in any process;
4. temporary files past the grace and not open in any process.

The grace period protects work in flight that holds no lease (a blob committed moments ago whose
manifest has not arrived yet). Live writers hold a shared ``flock`` on their temporary and partial
files (see ``registry.store.blobs.writer``); those are removed only under an exclusive lock, so even
``--grace 0`` never breaks a transfer in progress. Nothing here prints: :func:`prune` returns a
:class:`~registry.store.gc.GcReport`.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from registry.errors import CatalogError
from registry.oci.digest import Digest
from registry.store.blobs.filesystem import FilesystemBackend
from registry.store.catalog import Connection
from registry.store.catalog import ModelsCatalog as Q
from registry.store.gc import Claim, GcReport, Sweep, collect
from registry.store.library.catalog_guard import catalog_problem
from registry.store.library.compat_cache import sweep_compat

if TYPE_CHECKING:
    from registry.store.library.library import Library

__all__ = ["LibraryGc", "prune"]

_T = TypeVar("_T")


def prune(library: Library, *, dry_run: bool = False, grace_seconds: float = 3600.0) -> GcReport:
    """Collect garbage in ``library``. Safe while other processes pull, create, rm or serve.

    Runs the sweep on an event loop of its own: call it from synchronous code (or a worker thread).

    Raises:
        CatalogError: the catalog is lost (see ``catalog_guard``): with no record of which blobs
            models need, every blob would look unreferenced, so nothing is collected.
    """
    sweep = Sweep(now=time.time(), grace=grace_seconds, dry_run=dry_run)
    return asyncio.run(collect(LibraryGc(library), sweep))


class LibraryGc:
    """The library as a :class:`~registry.store.gc.GcProgram`: its catalog marks and claims, its
    files are the bytes. One object per run (it keeps what the mark and the walk found for the later
    steps)."""

    def __init__(self, library: Library) -> None:
        self._library = library
        self._backend = FilesystemBackend.over(library.blobs)
        self._recorded: set[Digest] = set()
        self._marked: set[str] = set()
        self._strays: list[str] = []

    @property
    def backend(self) -> FilesystemBackend:
        """The library's blob files, through the store contract."""
        return self._backend

    async def locked(self, work: Callable[[Connection], _T]) -> _T:
        """``work`` in one catalog write transaction (the writer lock), in a worker thread."""
        return await asyncio.to_thread(self._locked_here, work)

    def _locked_here(self, work: Callable[[Connection], _T]) -> _T:
        with self._library.db.write() as conn:
            return work(conn)

    def claim(self, conn: Connection, sweep: Sweep) -> Claim:
        """Refuse a lost catalog; drop expired leases; forget the rows of unmarked blobs created
        before the grace cut-off (unless dry run)."""
        library = self._library
        problem = catalog_problem(library.layout, conn, library.catalog_location)
        if problem is not None:
            raise CatalogError(f"prune refused: {problem}")
        if not sweep.dry_run:
            Q.purge_expired_leases(conn, sweep.now)
        self._marked = Q.marked_digests(conn, sweep.now)
        rows = Q.blob_rows(conn)
        self._recorded = set(rows)
        cutoff = sweep.cutoff  # the grace rule, hoisted out of a loop over every row
        garbage = [d for d, row in rows.items() if row.created_at < cutoff and str(d) not in self._marked]
        if not sweep.dry_run:
            Q.delete_blob_rows(conn, garbage)
        return Claim([(d, rows[d].size) for d in garbage], total=len(rows))

    def still_claimed(self, conn: Connection, digests: Sequence[Digest]) -> set[Digest]:
        """Those ``digests`` whose row did not come back (a new publish records it again)."""
        back = Q.blob_rows(conn, digests)
        return {d for d in digests if d not in back}

    def forget(self, conn: Connection, digests: Sequence[Digest]) -> None:
        """Nothing: the rows went when the blobs were claimed."""

    async def orphan_candidates(self, sweep: Sweep) -> list[tuple[Digest, int]]:
        """Blob files with no row at mark time, unmarked, whose last change is past the grace.

        One pass over ``blobs/`` (a walk the size of the store: it is the sweep's cost), which also
        notes the stray names for :meth:`sweep_extras`.
        """
        candidates: list[tuple[Digest, int]] = []
        self._strays = []
        for digest, entry in self._library.layout.iter_blob_files():
            if digest is None:
                self._strays.append(entry.path)
            elif digest not in self._recorded and str(digest) not in self._marked:
                try:
                    changed, size = _last_change(entry.path)
                except FileNotFoundError:
                    continue
                if sweep.past_grace(changed):
                    candidates.append((digest, size))
        return candidates

    def unrecorded(self, conn: Connection, candidates: Sequence[Digest]) -> set[Digest]:
        """Those ``candidates`` that still have no row and that nothing marks now."""
        back = Q.blob_rows(conn, candidates)
        live = Q.marked_digests(conn)
        return {d for d in candidates if d not in back and str(d) not in live}

    async def sweep_extras(self, sweep: Sweep, report: GcReport) -> None:
        """Stray files under ``blobs/``, stale partial downloads, stale temporary files."""
        _sweep_strays(self._strays, sweep, report)
        _sweep_partials(self._library, self._marked, sweep, report)
        _sweep_temp_files(self._library.layout.tmp_dir, sweep, report)
        removed, freed = sweep_compat(self._library.layout, self._marked, dry_run=sweep.dry_run)
        report.compat_files_removed += removed
        report.bytes_freed += freed


def _last_change(path: str | Path) -> tuple[float, int]:
    st = os.stat(path, follow_symlinks=False)
    # ctime moves on link/rename/chmod too, so a file hard-linked in a moment ago counts as new.
    return max(st.st_mtime, st.st_ctime), st.st_size


def _sweep_strays(paths: list[str], sweep: Sweep, report: GcReport) -> None:
    """Files under ``blobs/`` whose names are no digest (no writer of ours makes them), past the grace."""
    for path in paths:
        try:
            changed, size = _last_change(path)
        except FileNotFoundError:
            continue
        if not sweep.past_grace(changed):
            continue
        if not sweep.dry_run:
            try:
                os.unlink(path)
            except FileNotFoundError:
                continue
        report.orphan_files_removed += 1
        report.bytes_freed += size


def _unlink_if_unused(path: str, dry_run: bool) -> bool:
    """Remove ``path`` unless a live process holds it open and locked. True if removed (or would be)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return False
    try:
        if not dry_run:
            Path(path).unlink(missing_ok=True)
        return True
    finally:
        os.close(fd)


def _sweep_partials(library: Library, marked: set[str], sweep: Sweep, report: GcReport) -> None:
    """Remove stale partial downloads: data file and state file go together, under the data lock."""
    try:
        entries = {entry.name: entry for entry in os.scandir(library.layout.partials_dir)}
    except FileNotFoundError:
        return
    for name, entry in entries.items():
        hex_part = name.split(".", 1)[0]
        data_name = hex_part
        if f"sha256:{hex_part}" in marked:
            continue
        if name != data_name and data_name in entries:
            continue  # a state file: handled with its data file
        size = _remove_if_stale(entry.path, sweep)
        if size is None:
            continue
        report.bytes_freed += size
        if name == data_name:
            report.partials_removed += 1
            state = library.layout.partials_dir / f"{data_name}.json"
            if not sweep.dry_run:
                state.unlink(missing_ok=True)


def _remove_if_stale(path: str, sweep: Sweep) -> int | None:
    """Remove ``path`` (or, in a dry run, only check it could go) when it last changed before the
    grace and no process holds it; its size when it went, else None."""
    try:
        changed, size = _last_change(path)
    except FileNotFoundError:
        return None
    if not sweep.past_grace(changed) or not _unlink_if_unused(path, sweep.dry_run):
        return None
    return size


def _sweep_temp_files(directory: Path, sweep: Sweep, report: GcReport) -> None:
    try:
        entries = list(os.scandir(directory))
    except FileNotFoundError:
        return
    for entry in entries:
        size = _remove_if_stale(entry.path, sweep)
        if size is None:
            continue
        report.temp_files_removed += 1
        report.bytes_freed += size
