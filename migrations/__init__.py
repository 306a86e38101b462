"""Alembic migration scripts for the ollama-py catalog (applied by ``registry.catalog``)."""
