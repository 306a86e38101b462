"""Fixtures: a real registry server on 127.0.0.1 (port 0) over a fresh root, and an HTTP client."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from registry.ociserver.settings import ServerSettings
from tests.support.registry_server import RunningRegistry, start_registry


@pytest.fixture
def settings(tmp_path: Path) -> ServerSettings:
    """Settings for a loopback registry over ``tmp_path/root`` (no read cache, so tests see writes)."""
    return ServerSettings(root=tmp_path / "root", port=0, tag_cache_seconds=0.0)


@pytest.fixture
async def registry(settings: ServerSettings) -> AsyncIterator[RunningRegistry]:
    """A running registry server."""
    server = await start_registry(settings)
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """A client session that does not follow redirects by default."""
    async with aiohttp.ClientSession(auto_decompress=False) as session:
        yield session


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., ServerSettings]:
    """Build settings with overrides."""

    def make(**changes: Any) -> ServerSettings:
        base = ServerSettings(root=tmp_path / "root", port=0, tag_cache_seconds=0.0)
        return replace(base, **changes)

    return make
