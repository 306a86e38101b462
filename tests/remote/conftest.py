"""Fixtures for transfer tests: a fault-injecting upstream registry on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.support.upstream import Upstream


@pytest.fixture
async def upstream() -> AsyncIterator[Upstream]:
    """A running fixture registry (stopped after the test)."""
    server = await Upstream().start()
    yield server
    await server.stop()


@pytest.fixture
async def cdn(upstream: Upstream) -> AsyncIterator[Upstream]:
    """A second server sharing the upstream's blobs, as a CDN that blob GETs are redirected to."""
    server = await Upstream(cdn_blobs=upstream.blobs).start()
    yield server
    await server.stop()
