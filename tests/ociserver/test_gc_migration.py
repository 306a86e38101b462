"""Migration 0004 (GC tombstones, push pins, links need a blob row) on SQLite and PostgreSQL.

An existing 0003 catalog, including a link the old GC race left dangling, upgrades in place: the
dangling link is dropped (its blob's bytes were gone), everything else is kept, and from then on a
link to a missing blob row is refused by the database itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from registry.errors import CatalogError
from registry.store.catalog import Database
from registry.store.catalog.schema import SCHEMA_REVISION

GOOD = "sha256:" + "a" * 64
GONE = "sha256:" + "b" * 64


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "postgres":
        from tests.support.postgres import fresh_database

        yield fresh_database(request.getfixturevalue("postgres_url"))
    else:
        yield f"sqlite:///{tmp_path / 'catalog.db'}"


def test_migration_0004_upgrades_a_0003_catalog_and_enforces_links(url: str) -> None:
    old = Database(url, migrate=False)
    old.upgrade("0003")
    with old.write() as conn:
        conn.execute(text(f"INSERT INTO reg_blobs (digest, size, touched_at) VALUES ('{GOOD}', 3, 1.0)"))
        for digest in (GOOD, GONE):
            conn.execute(
                text(f"INSERT INTO reg_repo_blobs (repo, digest, linked_at) VALUES ('r', '{digest}', 1.0)")
            )
    old.dispose()

    db = Database(url)
    try:
        assert db.current_revision() == SCHEMA_REVISION == "0004"
        with db.read() as conn:
            links = conn.execute(text("SELECT digest FROM reg_repo_blobs")).scalars().all()
            assert links == [GOOD]
            assert conn.execute(text("SELECT deleting FROM reg_blobs")).scalar() in (False, 0)
            assert conn.execute(text("SELECT count(*) FROM reg_blob_pins")).scalar() == 0
        with pytest.raises(CatalogError), db.write() as conn:
            conn.execute(
                text(f"INSERT INTO reg_repo_blobs (repo, digest, linked_at) VALUES ('s', '{GONE}', 2.0)")
            )
    finally:
        db.dispose()


def test_migration_0004_downgrades(url: str) -> None:
    db = Database(url)
    db.dispose()
    from alembic import command

    from registry.store.catalog.migrate import alembic_config

    old = Database(url, migrate=False)
    with old.write() as conn:
        cfg = alembic_config()
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0003")
    assert old.current_revision() == "0003"
    old.dispose()
