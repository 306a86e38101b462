"""Alembic, driven programmatically. The scripts live in the top-level ``migrations`` package."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection

__all__ = ["alembic_config", "head_revision", "run_upgrade"]


def alembic_config() -> Config:
    """An Alembic config pointing at the ``migrations`` package shipped with ollama-py."""
    import migrations

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(migrations.__file__).parent))
    return cfg


def run_upgrade(conn: Connection, revision: str = "head") -> None:
    """Upgrade the database behind ``conn`` (inside the caller's transaction)."""
    cfg = alembic_config()
    cfg.attributes["connection"] = conn
    command.upgrade(cfg, revision)


def head_revision() -> str:
    """The newest revision among the migration scripts."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head
