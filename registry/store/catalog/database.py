"""Engine set-up, transactions with a store-wide write lock, and automatic migrations.

Two kinds of transaction:

- ``read()``: a plain transaction (a consistent snapshot in WAL mode / READ COMMITTED).
- ``write()``: holds the catalog's single writer lock for its whole duration: ``BEGIN IMMEDIATE`` on
  SQLite, a transaction-scoped advisory lock on PostgreSQL. Every change to which blobs exist or are
  referenced (commit, rm, prune, verify repair) happens under it, so GC can never race a commit.

SQLite runs with WAL, foreign keys on and a 60 s busy timeout, so several processes share one store.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.exc import SQLAlchemyError

from registry.errors import CatalogError
from registry.store.catalog.schema import SCHEMA_REVISION

__all__ = ["Database"]

_T = TypeVar("_T")
_WRITE_LOCK_KEY = 0x6F6C6C61  # "olla": the advisory lock id on PostgreSQL


class Database:
    """An engine plus the transaction discipline above. One per process per store; thread-safe."""

    def __init__(self, url: str, *, migrate: bool = True) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        try:
            self.engine: Engine = self._make_engine(url)
            if migrate:
                self.ensure_schema()
        except SQLAlchemyError as err:
            raise CatalogError(f"cannot open the catalog at {_safe_url(url)}: {_reason(err)}") from err

    @classmethod
    def for_store(cls, root: Path, url: str | None = None, *, migrate: bool = True) -> Database:
        """The catalog of a store: ``url`` if given, else SQLite ``<root>/catalog.db``."""
        return cls(url or f"sqlite:///{root / 'catalog.db'}", migrate=migrate)

    def _make_engine(self, url: str) -> Engine:
        if not self.is_sqlite:
            return create_engine(url, pool_pre_ping=True, future=True)
        engine = create_engine(url, connect_args={"timeout": 60, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: sqlite3.Connection, _record: object) -> None:
            dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=60000")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Connection) -> None:
            immediate = conn.get_execution_options().get("ollama_write", False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

        return engine

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read transaction. Driver errors become :class:`CatalogError`."""
        with _translated(), self.engine.connect() as conn, conn.begin():
            yield conn

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction holding the store-wide writer lock (see module docstring).

        Commits on normal exit, rolls back on an exception. Driver errors become
        :class:`CatalogError`.
        """
        with _translated(), self.engine.connect() as conn:
            conn = conn.execution_options(ollama_write=True)
            with conn.begin():
                if not self.is_sqlite:
                    conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _WRITE_LOCK_KEY})
                yield conn

    @property
    def safe_url(self) -> str:
        """The URL without its password (for messages)."""
        return _safe_url(self.url)

    def run_write(self, fn: Callable[[Connection], _T]) -> _T:
        """``fn`` inside :meth:`write`; returns its result."""
        with self.write() as conn:
            return fn(conn)

    def current_revision(self) -> str | None:
        """The Alembic revision stamped in the database, or None for an empty database."""
        with self.read() as conn:
            return _revision(conn)

    def ensure_schema(self) -> None:
        """Upgrade to :data:`SCHEMA_REVISION` if needed. Cheap when already current (one query).

        Safe when several processes open a new store at once: the upgrade runs under the writer lock
        and re-checks the revision first.
        """
        with self.read() as conn:
            if _revision(conn) == SCHEMA_REVISION:
                return
        self.upgrade()

    def upgrade(self, revision: str = "head") -> None:
        """Run Alembic migrations up to ``revision`` under the writer lock."""
        from registry.store.catalog.migrate import run_upgrade  # alembic is heavy: import on demand

        with self.write() as conn:
            if revision == "head" and _revision(conn) == SCHEMA_REVISION:
                return
            run_upgrade(conn, revision)

    def dispose(self) -> None:
        """Close pooled connections."""
        self.engine.dispose()


def _revision(conn: Connection) -> str | None:
    if not inspect(conn).has_table("alembic_version"):
        return None
    row = conn.execute(text("SELECT version_num FROM alembic_version")).first()
    return None if row is None else str(row[0])


@contextmanager
def _translated() -> Iterator[None]:
    try:
        yield
    except SQLAlchemyError as err:
        raise CatalogError(f"catalog error: {_reason(err)}") from err


def _reason(err: SQLAlchemyError) -> str:
    orig: Any = getattr(err, "orig", None)
    return str(orig) if orig is not None else str(err).splitlines()[0]


def _safe_url(url: str) -> str:
    """The URL without its password."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        user = creds.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}"
    return url
