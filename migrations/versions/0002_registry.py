"""The registry server's tables: blobs, repository links, manifests, refs, tags, upload sessions.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

DIGEST = sa.String(71)
REPO = sa.String(256)


def upgrade() -> None:
    op.create_table(
        "reg_blobs",
        sa.Column("digest", DIGEST, primary_key=True),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("touched_at", sa.Float, nullable=False),
    )
    op.create_table(
        "reg_repo_blobs",
        sa.Column("repo", REPO, primary_key=True),
        sa.Column("digest", DIGEST, primary_key=True),
        sa.Column("linked_at", sa.Float, nullable=False),
    )
    op.create_index("ix_reg_repo_blobs_digest", "reg_repo_blobs", ["digest"])
    op.create_table(
        "reg_manifests",
        sa.Column("repo", REPO, primary_key=True),
        sa.Column("digest", DIGEST, primary_key=True),
        sa.Column("media_type", sa.String(255), nullable=False),
        sa.Column("content", sa.LargeBinary, nullable=False),
        sa.Column("subject", DIGEST, nullable=True),
        sa.Column("artifact_type", sa.String(255), nullable=True),
        sa.Column("annotations", sa.Text, nullable=True),
        sa.Column("pushed_at", sa.Float, nullable=False),
    )
    op.create_index("ix_reg_manifests_subject", "reg_manifests", ["repo", "subject"])
    op.create_table(
        "reg_manifest_refs",
        sa.Column("repo", REPO, primary_key=True),
        sa.Column("manifest_digest", DIGEST, primary_key=True),
        sa.Column("child_digest", DIGEST, primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
    )
    op.create_index("ix_reg_manifest_refs_child", "reg_manifest_refs", ["child_digest"])
    op.create_table(
        "reg_tags",
        sa.Column("repo", REPO, primary_key=True),
        sa.Column("tag", sa.String(128), primary_key=True),
        sa.Column("digest", DIGEST, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.Column("validated_at", sa.Float, nullable=False),
    )
    op.create_index("ix_reg_tags_digest", "reg_tags", ["repo", "digest"])
    op.create_table(
        "reg_uploads",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("repo", REPO, nullable=False),
        sa.Column("offset", sa.BigInteger, nullable=False),
        sa.Column("started_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("reg_uploads")
    op.drop_table("reg_tags")
    op.drop_table("reg_manifest_refs")
    op.drop_table("reg_manifests")
    op.drop_table("reg_repo_blobs")
    op.drop_table("reg_blobs")
