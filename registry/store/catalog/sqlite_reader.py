"""A read-only listing of models through the standard library's sqlite3, without SQLAlchemy.

``ollama-py list`` is the command people run most; importing SQLAlchemy alone costs a few tenths of a
second. This path answers the same query with the stdlib driver when the catalog is a local SQLite
file at the schema revision this code expects; otherwise it returns None and the caller uses the
normal catalog. A test asserts both paths return identical rows.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from registry.store.catalog.rows import ModelRow, model_row
from registry.store.catalog.schema_revision import SCHEMA_REVISION

__all__ = ["read_models"]

_QUERY = """
SELECT models.host, models.namespace, models.model, models.tag, models.modified_at, models.broken,
       manifests.digest, manifests.media_type, manifests.size, manifests.total_size,
       manifests.config_digest, manifests.config_json
FROM models JOIN manifests ON manifests.digest = models.manifest_digest
ORDER BY models.modified_at DESC, models.name_key
"""


def read_models(db_path: Path) -> list[ModelRow] | None:
    """Every model, newest first, or None when this fast path does not apply (no file, another
    schema revision, any database error): the caller then asks the regular catalog."""
    if not db_path.is_file():
        return None
    try:
        conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=60)
    except sqlite3.Error:
        return None
    try:
        conn.execute("PRAGMA busy_timeout=60000")
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        if row is None or row[0] != SCHEMA_REVISION:
            return None
        return [model_row(r) for r in conn.execute(_QUERY)]
    except sqlite3.Error:
        return None
    finally:
        conn.close()
