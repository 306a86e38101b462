"""Shared fixtures: a fresh library per test, and a helper to put simple models into it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from registry.store.library import Library
from tests.support.models import make_model
from tests.support.tiny_gguf import tiny_gguf


@pytest.fixture
def library(tmp_path: Path) -> Iterator[Library]:
    """An empty library in a temporary directory (SQLite catalog)."""
    lib = Library.open(tmp_path / "store")
    yield lib
    lib.close()


@pytest.fixture
def sample_model(library: Library) -> str:
    """A small model named ``sample:latest`` with weights, template, system, params and license."""
    make_model(
        library,
        "sample",
        weights=b"GGUF" + b"\x00" * 60 + b"sample weights",
        template="{{ .Prompt }}",
        system="You are a test.",
        params={"temperature": 0.5, "stop": ["<a>", "<b>"]},
        licenses=["MIT"],
    )
    return "sample"


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """Base URL of a private PostgreSQL server for the whole test session."""
    from tests.support.postgres import postgres_server

    with postgres_server() as url:
        yield url


__all__ = ["tiny_gguf"]
