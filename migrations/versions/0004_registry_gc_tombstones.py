"""Registry GC that cannot lose acknowledged pushes: blob tombstones, push pins, links need a blob row.

- ``reg_blobs.deleting``: the sweep commits this tombstone before it deletes any bytes.
- ``reg_blob_pins``: pushes in flight pin their digest; GC never sweeps a pinned digest.
- ``reg_repo_blobs.digest`` gets a foreign key to ``reg_blobs.digest`` (links left dangling by the
  old race are dropped first: they named blobs whose bytes were already gone).

Works on SQLite (batch mode recreates ``reg_repo_blobs``) and PostgreSQL.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_FK = "fk_reg_repo_blobs_digest"


def upgrade() -> None:
    with op.batch_alter_table("reg_blobs") as batch:
        batch.add_column(sa.Column("deleting", sa.Boolean, nullable=False, server_default=sa.false()))
    op.create_table(
        "reg_blob_pins",
        sa.Column("digest", sa.String(135), primary_key=True),
        sa.Column("holder", sa.String(64), primary_key=True),
        sa.Column("expires_at", sa.Float, nullable=False),
    )
    op.execute("DELETE FROM reg_repo_blobs WHERE digest NOT IN (SELECT digest FROM reg_blobs)")
    with op.batch_alter_table("reg_repo_blobs") as batch:
        batch.create_foreign_key(_FK, "reg_blobs", ["digest"], ["digest"])


def downgrade() -> None:
    with op.batch_alter_table("reg_repo_blobs") as batch:
        batch.drop_constraint(_FK, type_="foreignkey")
    op.drop_table("reg_blob_pins")
    with op.batch_alter_table("reg_blobs") as batch:
        batch.drop_column("deleting")
