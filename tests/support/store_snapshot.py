"""Store snapshots for tests that prove nothing half-created remains."""

from __future__ import annotations

from registry.store.library import Library


def blob_files(library: Library) -> set[str]:
    """Names of every file under blobs/ (what is physically in the store)."""
    root = library.layout.root / "blobs"
    return {p.name for p in root.rglob("*") if p.is_file()}


def snapshot(library: Library) -> tuple[list[str], set[str]]:
    """Model names and blob files."""
    return [r.name.display_shortest for r in library.list_models()], blob_files(library)


__all__ = ["blob_files", "snapshot"]
