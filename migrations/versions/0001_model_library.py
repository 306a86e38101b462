"""The local model library: blobs, manifests, their layers, model names and leases.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

DIGEST = sa.String(71)


def upgrade() -> None:
    op.create_table(
        "blobs",
        sa.Column("digest", DIGEST, primary_key=True),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_table(
        "manifests",
        sa.Column("digest", DIGEST, primary_key=True),
        sa.Column("media_type", sa.String(255), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("total_size", sa.BigInteger, nullable=False),
        sa.Column("config_digest", DIGEST, nullable=True),
        sa.Column("config_json", sa.Text, nullable=True),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_table(
        "manifest_blobs",
        sa.Column(
            "manifest_digest",
            DIGEST,
            sa.ForeignKey("manifests.digest", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("position", sa.Integer, primary_key=True),
        sa.Column("digest", DIGEST, nullable=False),
        sa.Column("media_type", sa.String(255), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_manifest_blobs_digest", "manifest_blobs", ["digest"])
    op.create_table(
        "models",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name_key", sa.String(600), nullable=False, unique=True),
        sa.Column("host", sa.String(350), nullable=False),
        sa.Column("namespace", sa.String(80), nullable=False),
        sa.Column("model", sa.String(80), nullable=False),
        sa.Column("tag", sa.String(80), nullable=False),
        sa.Column("manifest_digest", DIGEST, sa.ForeignKey("manifests.digest"), nullable=False),
        sa.Column("modified_at", sa.Float, nullable=False),
        sa.Column("broken", sa.Boolean, nullable=False, server_default=sa.false()),
    )
    op.create_index("ix_models_manifest_digest", "models", ["manifest_digest"])
    op.create_table(
        "leases",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("digest", DIGEST, nullable=False),
        sa.Column("holder", sa.String(255), nullable=False),
        sa.Column("expires_at", sa.Float, nullable=False),
    )
    op.create_index("ix_leases_digest", "leases", ["digest"])
    state = op.create_table(
        "catalog_state",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("models_version", sa.BigInteger, nullable=False, server_default="0"),
    )
    op.bulk_insert(state, [{"id": 1, "models_version": 0}])


def downgrade() -> None:
    op.drop_table("catalog_state")
    op.drop_table("leases")
    op.drop_table("models")
    op.drop_table("manifest_blobs")
    op.drop_table("manifests")
    op.drop_table("blobs")
