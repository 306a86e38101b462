"""``verify``: re-hash every blob and check the catalog and the files against each other.

Findings:
- *corrupt*: a blob file whose bytes do not hash to its name (or whose size differs from the row);
- *missing*: a catalog blob row with no file;
- *dangling*: a manifest that references a digest the catalog has no row for;
- *orphan files*: files under ``blobs/`` with no row (harmless; prune collects them).

With ``repair=True``: corrupt files are moved to ``quarantine/`` and their rows dropped, rows of
missing files are dropped, and every model that needs an affected blob is marked *broken* (shown by
``list``; fixed by pulling or creating it again). A model is never deleted. Models marked broken
whose blobs are all fine again are unmarked.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from registry.errors import BlobNotFound
from registry.oci.digest import Digest
from registry.oci.name import ModelName
from registry.store.catalog import ModelsCatalog as Q
from registry.store.library.compat_cache import stale_translations

if TYPE_CHECKING:
    from registry.store.library.library import Library

__all__ = ["VerifyReport", "check"]


@dataclass(slots=True)
class VerifyReport:
    """The outcome of :func:`check`. ``ok`` when nothing is corrupt, missing or dangling."""

    blobs_checked: int = 0
    bytes_checked: int = 0
    corrupt: list[Digest] = field(default_factory=list)
    missing: list[Digest] = field(default_factory=list)
    dangling: list[tuple[Digest, Digest]] = field(default_factory=list)  # (manifest, missing digest)
    orphan_files: int = 0
    broken_models: list[ModelName] = field(default_factory=list)
    repaired: bool = False
    quarantined: list[Digest] = field(default_factory=list)
    stale_translations: list[Path] = field(default_factory=list)
    """llama.cpp translations in ``compat/`` that differ from their plan (derived data: a load
    rebuilds them, ``--repair`` removes them; they do not make the store inconsistent)."""

    @property
    def ok(self) -> bool:
        """True when the store is consistent."""
        return not (self.corrupt or self.missing or self.dangling)


def _check_one(library: Library, digest: Digest, size: int) -> str:
    path = library.blobs.path(digest)
    try:
        if path.stat().st_size != size:
            return "corrupt"
        return "ok" if library.blobs.verify_blob(digest) else "corrupt"
    except (FileNotFoundError, BlobNotFound):
        return "missing"


def check(library: Library, *, repair: bool = False, workers: int = 2) -> VerifyReport:
    """Verify the whole library; see the module docstring. Safe while other processes work.

    Raises:
        CatalogError: the catalog is lost (see ``catalog_guard``); nothing is checked or repaired.
    """
    library.ensure_catalog()
    report = VerifyReport(repaired=repair)
    with library.db.read() as conn:
        rows = Q.blob_rows(conn)
        manifests = Q.all_manifest_digests(conn)
        references = {m: Q.manifest_blob_digests(conn, m) for m in manifests}
    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = pool.map(lambda r: (r.digest, _check_one(library, r.digest, r.size)), rows.values())
        for digest, outcome in results:
            report.blobs_checked += 1
            if outcome == "corrupt":
                report.corrupt.append(digest)
            elif outcome == "missing":
                report.missing.append(digest)
            else:
                report.bytes_checked += rows[digest].size
    for manifest, needed in references.items():
        for digest in [manifest, *needed]:
            if digest not in rows:
                report.dangling.append((manifest, digest))
    report.orphan_files = sum(1 for d, _ in library.layout.iter_blob_files() if d is None or d not in rows)
    bad = set(report.corrupt) | set(report.missing) | {d for _, d in report.dangling}
    with library.db.read() as conn:
        report.broken_models = [m.name for m in Q.models_using(conn, bad)] if bad else []
    report.stale_translations = stale_translations(library.layout)
    if repair:
        _repair(library, report)
        for path in report.stale_translations:
            path.unlink(missing_ok=True)
    return report


def _repair(library: Library, report: VerifyReport) -> None:
    for digest in report.corrupt:
        if library.blobs.quarantine(digest) is not None:
            report.quarantined.append(digest)
    with library.db.write() as conn:
        Q.delete_blob_rows(conn, [*report.corrupt, *report.missing])
        healthy = [m.name for m in Q.list_models(conn) if m.broken and m.name not in report.broken_models]
        Q.set_broken(conn, healthy, broken=False)
        Q.set_broken(conn, report.broken_models, broken=True)
