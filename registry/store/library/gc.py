"""Garbage collection for the local library: mark and sweep, online, with leases and a grace period.

Mark: every digest a manifest references, every manifest, every live lease (one query each, under
the writer lock). Sweep, in this order:

1. catalog blob rows that are unmarked and older than the grace period: rows deleted under the
   lock, files unlinked afterwards only if no row came back (see ``library.py``);
2. files under ``blobs/`` with no catalog row (left by a crash between publish and record) whose
   last change is older than the grace period;
3. partial downloads not touched for the grace period, not leased and not open in any process;
4. temporary files older than the grace period and not open in any process.

The grace period protects work in flight that holds no lease (a blob committed moments ago whose
manifest has not arrived yet). Live writers hold a shared ``flock`` on their temporary and partial
files (see ``registry.store.blobs.writer``); files are removed only under an exclusive lock, so even
``--grace 0`` never breaks a transfer in progress. Nothing here prints: :func:`collect` returns a
:class:`GcReport`.
"""

from __future__ import annotations

import fcntl
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from registry.errors import CatalogError
from registry.oci.digest import Digest
from registry.store.catalog import ModelsCatalog as Q
from registry.store.library.catalog_guard import catalog_problem

if TYPE_CHECKING:
    from registry.store.library.library import Library

__all__ = ["GcReport", "collect"]


@dataclass(slots=True)
class GcReport:
    """What a collection found and (unless ``dry_run``) removed."""

    dry_run: bool
    blobs_total: int = 0
    blobs_removed: list[Digest] = field(default_factory=list)
    orphan_files_removed: int = 0
    partials_removed: int = 0
    temp_files_removed: int = 0
    bytes_freed: int = 0

    @property
    def items_removed(self) -> int:
        """Everything removed (or, in a dry run, that would be)."""
        return (
            len(self.blobs_removed)
            + self.orphan_files_removed
            + self.partials_removed
            + self.temp_files_removed
        )


def _last_change(path: str | Path) -> tuple[float, int]:
    st = os.stat(path, follow_symlinks=False)
    # ctime moves on link/rename/chmod too, so a file hard-linked in a moment ago counts as new.
    return max(st.st_mtime, st.st_ctime), st.st_size


def collect(library: Library, *, dry_run: bool = False, grace_seconds: float = 3600.0) -> GcReport:
    """Collect garbage in ``library``. Safe while other processes pull, create, rm or serve.

    Raises:
        CatalogError: the catalog is lost (see ``catalog_guard``): with no record of which blobs
            models need, every blob would look unreferenced, so nothing is collected.
    """
    report = GcReport(dry_run=dry_run)
    now = time.time()
    cutoff = now - grace_seconds
    with library.db.write() as conn:
        problem = catalog_problem(library.layout, conn, library.catalog_location)
        if problem is not None:
            raise CatalogError(f"prune refused: {problem}")
        if not dry_run:
            Q.purge_expired_leases(conn, now)
        marked = Q.marked_digests(conn, now)
        rows = Q.blob_rows(conn)
        garbage = [d for d, row in rows.items() if str(d) not in marked and row.created_at < cutoff]
        if not dry_run:
            Q.delete_blob_rows(conn, garbage)
    report.blobs_total = len(rows)
    if dry_run:
        report.blobs_removed = garbage
        report.bytes_freed = sum(rows[d].size for d in garbage)
    else:
        removed, freed = library.unlink_forgotten(garbage)
        report.blobs_removed = removed
        report.bytes_freed = freed
    _sweep_orphan_files(library, set(rows), marked, cutoff, report)
    _sweep_partials(library, marked, cutoff, report)
    _sweep_dir(library.layout.tmp_dir, cutoff, report, dry_run)
    return report


def _sweep_orphan_files(
    library: Library, known_set: set[Digest], marked: set[str], cutoff: float, report: GcReport
) -> None:
    orphans: list[tuple[Digest | None, str, int]] = []
    for digest, entry in library.layout.iter_blob_files():
        if digest is not None and (digest in known_set or str(digest) in marked):
            continue
        try:
            changed, size = _last_change(entry.path)
        except FileNotFoundError:
            continue
        if changed < cutoff:
            orphans.append((digest, entry.path, size))
    if not orphans:
        return
    if report.dry_run:
        report.orphan_files_removed = len(orphans)
        report.bytes_freed += sum(size for _, _, size in orphans)
        return
    with library.db.write() as conn:
        back = Q.blob_rows(conn, [d for d, _, _ in orphans if d is not None])
        live = Q.marked_digests(conn)
        for digest, path, size in orphans:
            if digest is not None and (digest in back or str(digest) in live):
                continue
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


def _sweep_partials(library: Library, marked: set[str], cutoff: float, report: GcReport) -> None:
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
        try:
            changed, size = _last_change(entry.path)
        except FileNotFoundError:
            continue
        if changed >= cutoff or not _unlink_if_unused(entry.path, report.dry_run):
            continue
        report.bytes_freed += size
        if name == data_name:
            report.partials_removed += 1
            state = library.layout.partials_dir / f"{data_name}.json"
            if not report.dry_run:
                state.unlink(missing_ok=True)


def _sweep_dir(directory: Path, cutoff: float, report: GcReport, dry_run: bool) -> None:
    try:
        entries = list(os.scandir(directory))
    except FileNotFoundError:
        return
    for entry in entries:
        try:
            changed, size = _last_change(entry.path)
        except FileNotFoundError:
            continue
        if changed >= cutoff or not _unlink_if_unused(entry.path, dry_run):
            continue
        report.temp_files_removed += 1
        report.bytes_freed += size
