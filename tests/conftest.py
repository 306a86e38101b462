"""Shared fixtures: the loopback-only guard (any connection or name lookup beyond this machine fails
the test, in this process and in the Python subprocesses it starts), a fresh library per test, and
a helper to put simple models into it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from registry.store.library import Library
from tests.support.loopback_only.loopback_guard import GUARD_DIR, LOG_ENV, install
from tests.support.models import make_model
from tests.support.tiny_gguf import tiny_gguf


@pytest.fixture(scope="session", autouse=True)
def loopback_only(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Guard this process's sockets for the session, and put the guard on ``PYTHONPATH`` (its
    ``sitecustomize``) for every Python subprocess; yields the file every refusal is logged to."""
    log = tmp_path_factory.mktemp("loopback-only") / "refusals.log"
    log.touch()
    saved = {name: os.environ.get(name) for name in ("PYTHONPATH", LOG_ENV)}
    os.environ[LOG_ENV] = str(log)
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, (str(GUARD_DIR), saved["PYTHONPATH"])))
    uninstall = install()
    try:
        yield log
    finally:
        uninstall()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@pytest.fixture(autouse=True)
def no_connection_beyond_loopback(loopback_only: Path) -> Iterator[None]:
    """Fail the test if it, or any process it started, was refused a connection beyond this machine
    (even where the refusal was caught and the test would otherwise pass)."""
    start = loopback_only.stat().st_size
    yield
    with loopback_only.open(encoding="utf-8") as log:
        log.seek(start)
        refused = log.read()
    if refused:
        pytest.fail(f"this test reached beyond loopback:\n{refused}", pytrace=False)


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
