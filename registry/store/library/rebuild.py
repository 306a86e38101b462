"""``verify --rebuild-catalog``: rebuild a lost catalog from the store's own files.

Everything the catalog holds about models can be recovered from the store: every blob file is
named by its digest, every manifest is itself a blob, and ``index.json`` names the models (see
``name_index``). :func:`rebuild`:

1. re-hashes every file under ``blobs/sha256`` (outside the writer lock) and keeps those whose bytes
   match their name (corrupt files are reported and left alone for ``verify --repair``);
2. reads the blobs that parse as image manifests;
3. in one write transaction records the blob rows, then for each name in ``index.json`` whose
   manifest blob and every blob it references are present, the manifest and the name (with its
   recorded modification time); names already in the catalog are left as they are;
4. rewrites ``index.json`` from the result.

A store written before ``index.json`` existed (or whose index is damaged) has no (complete) record
of names: each manifest no readable entry names then comes back as
``recovered/<12 hex of its digest>:latest`` (rename it with ``cp`` and ``rm``). Idempotent:
a second run recovers nothing new. Blobs that no recovered model needs get ordinary rows, so prune
collects them after the grace period as usual.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from registry.errors import BlobNotFound, CatalogError, InvalidManifest
from registry.oci.digest import Digest
from registry.oci.manifest import MAX_MANIFEST_BYTES, Manifest
from registry.oci.name import ModelName
from registry.store.blobs.layout import StoreLayout
from registry.store.catalog import ModelsCatalog as Q
from registry.store.library.model_info import read_config_json
from registry.store.library.name_index import IndexEntry, read_index

if TYPE_CHECKING:
    from registry.store.library.library import Library

__all__ = ["RebuildReport", "open_for_rebuild", "rebuild"]

_SQLITE_HEADER = b"SQLite format 3\x00"


@dataclass(slots=True)
class RebuildReport:
    """What :func:`rebuild` found and restored."""

    blobs_recorded: int = 0
    corrupt: list[Digest] = field(default_factory=list)
    recovered: list[tuple[ModelName, Digest]] = field(default_factory=list)
    already_present: list[ModelName] = field(default_factory=list)
    not_recovered: list[tuple[ModelName, Digest, str]] = field(default_factory=list)  # name, manifest, why
    index_problems: list[str] = field(default_factory=list)
    names_from_index: bool = True

    @property
    def ok(self) -> bool:
        """True when every named model came back (or was already there) and no blob was corrupt."""
        return not (self.not_recovered or self.corrupt)


def open_for_rebuild(root: Path, database_url: str | None = None) -> tuple[Library, Path | None]:
    """Open the library at ``root`` even though its catalog is lost.

    A local ``catalog.db`` that is not an SQLite database at all (damaged) is moved aside to
    ``catalog.db.damaged-<time>`` (with its ``-wal``/``-shm``) and a new one is created; the moved
    path is returned. Any other failure to open is raised as it is (a busy or locked catalog is
    never moved).

    Raises:
        CatalogError, StoreLayoutError.
    """
    from registry.store.library.library import Library

    try:
        return Library.open(root, database_url, allow_lost_catalog=True), None
    except CatalogError:
        layout = StoreLayout(root.expanduser().resolve())
        if database_url is not None or not _is_damaged_sqlite(layout.catalog_path):
            raise
        moved = layout.catalog_path.with_name(f"catalog.db.damaged-{time.strftime('%Y%m%dT%H%M%S')}")
        for suffix in ("-wal", "-shm", ""):
            source = Path(f"{layout.catalog_path}{suffix}")
            if source.exists():
                os.replace(source, Path(f"{moved}{suffix}"))
    return Library.open(root, database_url, allow_lost_catalog=True), moved


def _is_damaged_sqlite(path: Path) -> bool:
    """True for a non-empty file that does not start with SQLite's header."""
    try:
        with open(path, "rb") as f:
            head = f.read(len(_SQLITE_HEADER))
    except OSError:
        return False
    return bool(head) and head != _SQLITE_HEADER


def rebuild(library: Library) -> RebuildReport:
    """Restore what the catalog lacks; see the module docstring."""
    report = RebuildReport()
    found = _hash_blob_files(library, report)
    manifests = _read_manifests(library, found)
    index = read_index(library.layout.index_path)
    entries: list[IndexEntry] = []
    if index is not None:
        report.index_problems = list(index.problems)
        entries = list(index.entries)
    if index is None or index.problems:  # no (complete) record of names: name the rest by digest
        report.names_from_index = False
        named = {entry.manifest for entry in entries}
        entries += [
            IndexEntry(ModelName(namespace="recovered", model=digest.hex[:12]), digest)
            for digest in sorted(manifests, key=str)
            if digest not in named
        ]
    with library.db.write() as conn:
        Q.record_blobs(conn, found)
        known = set(Q.blob_rows(conn, [d.digest for m in manifests.values() for d in m.blobs()]))
        for entry in entries:
            if Q.get_model(conn, entry.name) is not None:
                report.already_present.append(entry.name)
                continue
            manifest = manifests.get(entry.manifest)
            if manifest is None:
                why = "its manifest blob is missing or corrupt"
                report.not_recovered.append((entry.name, entry.manifest, why))
                continue
            missing = [d.digest for d in manifest.blobs() if d.digest not in known]
            if missing:
                why = f"blob {missing[0]} is missing or corrupt; pull or create it again"
                report.not_recovered.append((entry.name, entry.manifest, why))
                continue
            Q.put_manifest(conn, manifest, _config_json(library, manifest))
            Q.set_model(conn, entry.name, entry.manifest, modified_at=entry.modified_at)
            report.recovered.append((entry.name, entry.manifest))
        library.write_name_index(conn)
    report.blobs_recorded = len(found)
    return report


def _hash_blob_files(library: Library, report: RebuildReport) -> dict[Digest, int]:
    found: dict[Digest, int] = {}
    for digest, entry in library.layout.iter_blob_files():
        if digest is None or digest.algorithm != "sha256":
            continue
        try:
            actual, size = library.blobs.hash_file(Path(entry.path))
        except OSError:
            report.corrupt.append(digest)
            continue
        if actual != digest:
            report.corrupt.append(digest)
            continue
        found[digest] = size
    return found


def _read_manifests(library: Library, found: dict[Digest, int]) -> dict[Digest, Manifest]:
    manifests: dict[Digest, Manifest] = {}
    for digest, size in found.items():
        if size > MAX_MANIFEST_BYTES or size < 2:
            continue
        try:
            raw = library.blobs.read_bytes(digest, MAX_MANIFEST_BYTES)
            if not raw.lstrip().startswith(b"{"):
                continue
            manifest = Manifest.parse(raw)
        except (OSError, BlobNotFound, InvalidManifest, ValueError):
            continue
        if manifest.config is not None and manifest.digest == digest:
            manifests[digest] = manifest
    return manifests


def _config_json(library: Library, manifest: Manifest) -> str | None:
    """The config blob's text when it is small JSON (see :func:`~registry.store.library.model_info.read_config_json`); None
    when it is not, or cannot be read."""
    try:
        return read_config_json(library.blobs, manifest)
    except (OSError, BlobNotFound):
        return None
