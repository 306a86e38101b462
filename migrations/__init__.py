"""Alembic migration scripts for the ollama-py catalog (applied by ``registry.store.catalog``)."""
