"""Registry digests may be sha512: widen the registry tables' digest columns to 135 characters.

SQLite does not enforce VARCHAR lengths, so only PostgreSQL needs the ALTERs.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_COLUMNS = [
    ("reg_blobs", "digest"),
    ("reg_repo_blobs", "digest"),
    ("reg_manifests", "digest"),
    ("reg_manifests", "subject"),
    ("reg_manifest_refs", "manifest_digest"),
    ("reg_manifest_refs", "child_digest"),
    ("reg_tags", "digest"),
]


def _alter(length: int) -> None:
    if op.get_bind().dialect.name == "sqlite":
        return
    for table, column in _COLUMNS:
        op.alter_column(table, column, type_=sa.String(length), existing_type=sa.String())


def upgrade() -> None:
    _alter(135)


def downgrade() -> None:
    _alter(71)
