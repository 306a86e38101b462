"""The catalog: names, manifests, blob sizes and leases in a SQL database (SQLite or PostgreSQL).

This package is the only place that imports SQLAlchemy and Alembic. Driver errors stop here and
become :class:`registry.errors.CatalogError`. SQLAlchemy is imported on first use of a name that
needs it, so stdlib-only readers (``sqlite_reader``) stay fast to start.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from registry.store.catalog.rows import BlobRow, ManifestRow, ModelRow

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from registry.store.catalog.database import Database
    from registry.store.catalog.models import ModelsCatalog
    from registry.store.catalog.registry_browse_queries import RegistryBrowseQueries, TaggedManifest
    from registry.store.catalog.registry_gc_queries import RegistryGcQueries
    from registry.store.catalog.registry_queries import ManifestRecord, RegistryCatalog

__all__ = [
    "BlobRow",
    "Connection",
    "Database",
    "ManifestRecord",
    "ManifestRow",
    "ModelRow",
    "ModelsCatalog",
    "RegistryBrowseQueries",
    "RegistryCatalog",
    "RegistryGcQueries",
    "TaggedManifest",
]

_LAZY = {
    "Connection": ("sqlalchemy", "Connection"),
    "Database": ("registry.store.catalog.database", "Database"),
    "ModelsCatalog": ("registry.store.catalog.models", "ModelsCatalog"),
    "ManifestRecord": ("registry.store.catalog.registry_queries", "ManifestRecord"),
    "RegistryCatalog": ("registry.store.catalog.registry_queries", "RegistryCatalog"),
    "RegistryGcQueries": ("registry.store.catalog.registry_gc_queries", "RegistryGcQueries"),
    "RegistryBrowseQueries": ("registry.store.catalog.registry_browse_queries", "RegistryBrowseQueries"),
    "TaggedManifest": ("registry.store.catalog.registry_browse_queries", "TaggedManifest"),
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
