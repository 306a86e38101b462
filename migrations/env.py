"""Alembic environment: always run online, on the connection the catalog hands over."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from registry.store.catalog.schema import metadata

config = context.config
connection = config.attributes.get("connection")

if connection is None:
    # Plain `alembic` command line use: take the URL from the config.
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "sqlite:///catalog.db")
    with engine.begin() as conn:
        context.configure(connection=conn, target_metadata=metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
else:
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
