"""Table definitions (SQLAlchemy Core). Migrations under ``migrations/versions`` build exactly these.

Invariants the library keeps (blobs first, catalog last):
- every ``manifest_blobs.digest`` and ``manifests.digest`` has a ``blobs`` row whose file was
  verified before the row was written;
- a ``models`` row points at an existing ``manifests`` row;
- ``leases`` protect digests that in-flight work (pull, push, create) is about to reference, so GC
  and ``rm`` leave them alone until the lease expires or is released.

Times are UNIX seconds (float) so SQLite and PostgreSQL agree without timezone handling.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

from registry.store.catalog.schema_revision import SCHEMA_REVISION

__all__ = [
    "SCHEMA_REVISION",
    "blobs",
    "catalog_state",
    "leases",
    "manifest_blobs",
    "manifests",
    "metadata",
    "models",
]


metadata = MetaData()

DIGEST = String(71)  # "sha256:" + 64 hex

blobs = Table(
    "blobs",
    metadata,
    Column("digest", DIGEST, primary_key=True),
    Column("size", BigInteger, nullable=False),
    Column("created_at", Float, nullable=False),
)

manifests = Table(
    "manifests",
    metadata,
    Column("digest", DIGEST, primary_key=True),
    Column("media_type", String(255), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("total_size", BigInteger, nullable=False),
    Column("config_digest", DIGEST, nullable=True),
    Column("config_json", Text, nullable=True),
    Column("created_at", Float, nullable=False),
)

manifest_blobs = Table(
    "manifest_blobs",
    metadata,
    Column("manifest_digest", DIGEST, ForeignKey("manifests.digest", ondelete="CASCADE"), primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("digest", DIGEST, nullable=False),
    Column("media_type", String(255), nullable=False),
    Column("size", BigInteger, nullable=False),
    Index("ix_manifest_blobs_digest", "digest"),
)

models = Table(
    "models",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name_key", String(600), nullable=False, unique=True),
    Column("host", String(350), nullable=False),
    Column("namespace", String(80), nullable=False),
    Column("model", String(80), nullable=False),
    Column("tag", String(80), nullable=False),
    Column("manifest_digest", DIGEST, ForeignKey("manifests.digest"), nullable=False),
    Column("modified_at", Float, nullable=False),
    Column("broken", Boolean, nullable=False, default=False),
    Index("ix_models_manifest_digest", "manifest_digest"),
)

leases = Table(
    "leases",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("digest", DIGEST, nullable=False),
    Column("holder", String(255), nullable=False),
    Column("expires_at", Float, nullable=False),
    Index("ix_leases_digest", "digest"),
)

catalog_state = Table(
    "catalog_state",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("models_version", BigInteger, nullable=False, default=0),
)
