"""Is this catalog the one that belongs to these blobs? A lost catalog must never empty a store.

SQLite recreates a deleted or truncated ``catalog.db`` as an empty database, and an empty catalog
looks like an empty store: ``list`` would print nothing and ``prune`` would delete every blob as
unreferenced. So a catalog counts as *lost* when it has no models and no blob rows (what a freshly
created database has) while the store says otherwise:

- ``index.json`` names at least one model (see ``name_index``), or
- there is no readable ``index.json`` (a store written before it existed, or a damaged file) and
  files lie under ``blobs/``.

A brand-new store (no blobs) is fine, and so is a store whose index names no model (its blob files
can only be leftovers of interrupted work, which prune may collect). The check needs the writer lock
to be exact (a first model in a new store is named in a transaction that also writes the index), so
:func:`catalog_problem` is cheap to call in a read and is confirmed under the lock before anyone is
told the catalog is lost.
"""

from __future__ import annotations

from contextlib import suppress
from typing import TYPE_CHECKING

from registry.errors import CatalogError
from registry.store.blobs.layout import StoreLayout
from registry.store.catalog import ModelsCatalog as Q
from registry.store.library.name_index import read_index

if TYPE_CHECKING:
    from registry.store.catalog import Connection
    from registry.store.library.library import Library

__all__ = ["REBUILD_HINT", "catalog_problem", "refuse_lost_catalog"]

REBUILD_HINT = (
    "nothing was changed; run 'ollama-py verify --rebuild-catalog' to rebuild the catalog from the "
    "manifest blobs in the store"
)


def catalog_problem(layout: StoreLayout, conn: Connection, where: str) -> str | None:
    """None when the catalog behind ``conn`` can describe the store at ``layout``; otherwise a message
    that names the problem and the fix. ``where`` names the catalog (a path or a URL)."""
    if Q.has_models(conn) or Q.has_blob_rows(conn):
        return None
    index = read_index(layout.index_path)
    if index is not None and index.entries:
        return (
            f"the catalog ({where}) is missing or empty, but {layout.index_path} names "
            f"{len(index.entries)} model(s) whose blobs are in the store; {REBUILD_HINT}"
        )
    if index is not None and not index.problems:
        return None  # the index names no model: blob files can only be leftovers prune may collect
    if not layout.has_blob_files():
        return None
    return (
        f"the catalog ({where}) is missing or empty, but the store at {layout.root} holds blob "
        f"files; {REBUILD_HINT}"
    )


def refuse_lost_catalog(library: Library) -> None:
    """Raise when ``library``'s catalog is lost (see :func:`catalog_problem`); write ``index.json``
    when the store has none (or an unreadable one).

    Idempotent, and safe in several processes at once: a catalog that looks lost, or an index to
    write, is confirmed under the writer lock first. An index that cannot be written (a read-only
    store) is left for the next name change.

    Raises:
        CatalogError: the catalog is missing or empty while the store holds models' blobs; the
            message names the catalog and the fix.
    """
    where = library.catalog_location
    with library.db.read() as conn:
        problem = catalog_problem(library.layout, conn, where)
    if problem is None and _index_readable(library.layout):
        return
    with library.db.write() as conn:  # confirm under the lock: a first model may be being named
        problem = catalog_problem(library.layout, conn, where)
        if problem is None and not _index_readable(library.layout):
            with suppress(OSError):  # a read-only store: the next name change writes it, or fails clearly
                library.write_name_index(conn)
    if problem is not None:
        raise CatalogError(problem)


def _index_readable(layout: StoreLayout) -> bool:
    index = read_index(layout.index_path)
    return index is not None and not index.problems
