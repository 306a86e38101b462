"""The catalog: names, manifests, blob sizes and leases in a SQL database (SQLite or PostgreSQL).

This package is the only place that imports SQLAlchemy and Alembic. Driver errors stop here and
become :class:`registry.errors.CatalogError`.
"""

from sqlalchemy import Connection

from registry.catalog.database import Database
from registry.catalog.models import BlobRow, ManifestRow, ModelRow, ModelsCatalog
from registry.catalog.registry_queries import ManifestRecord, RegistryCatalog

__all__ = [
    "BlobRow",
    "Connection",
    "Database",
    "ManifestRecord",
    "ManifestRow",
    "ModelRow",
    "ModelsCatalog",
    "RegistryCatalog",
]
