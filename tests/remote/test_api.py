"""``POST /api/pull`` and ``/api/push`` through the real model server application."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient, TestServer

from registry.config import Settings
from registry.modelserver.api.app import build_app
from registry.store.library import Library
from tests.remote.helpers import name_on, serve_model
from tests.support.upstream import Upstream


@pytest.fixture
async def client(library: Library) -> AsyncIterator[TestClient[object, object]]:
    async with TestClient(TestServer(build_app(Settings(), library))) as c:  # type: ignore[type-var]
        yield c


async def test_pull_streams_ndjson(
    client: TestClient[object, object], upstream: Upstream, library: Library
) -> None:
    serve_model(upstream)
    resp = await client.post("/api/pull", json={"model": str(name_on(upstream)), "insecure": True})
    assert resp.status == 200
    assert resp.headers["Content-Type"].startswith("application/x-ndjson")
    lines = [json.loads(line) for line in (await resp.text()).splitlines()]
    assert lines[0] == {"status": "pulling manifest"}
    assert lines[-1] == {"status": "success"}
    assert any(line["status"].startswith("pulling ") and "digest" in line for line in lines)
    assert library.find_model(name_on(upstream)) is not None


async def test_pull_stream_false(client: TestClient[object, object], upstream: Upstream) -> None:
    serve_model(upstream)
    resp = await client.post(
        "/api/pull", json={"name": str(name_on(upstream)), "insecure": True, "stream": False}
    )
    assert resp.status == 200
    assert await resp.json() == {"status": "success"}


async def test_pull_missing_model_is_404(client: TestClient[object, object], upstream: Upstream) -> None:
    resp = await client.post(
        "/api/pull", json={"model": str(name_on(upstream, "library/no")), "insecure": True, "stream": False}
    )
    assert resp.status == 404
    assert (await resp.json())["error"] == "pull model manifest: file does not exist"


async def test_bad_input_is_400(client: TestClient[object, object]) -> None:
    assert (await client.post("/api/pull", json={})).status == 400
    assert (await client.post("/api/pull", json={"model": "a b c"})).status == 400
    assert (await client.post("/api/pull", json={"model": "x", "insecure": "yes"})).status == 400
    assert (await client.post("/api/push", data=b"{not json")).status == 400


async def test_push_roundtrip(
    client: TestClient[object, object], upstream: Upstream, library: Library
) -> None:
    serve_model(upstream)
    await client.post("/api/pull", json={"model": str(name_on(upstream)), "insecure": True, "stream": False})
    library.copy(name_on(upstream), name_on(upstream, "me/again"))
    resp = await client.post(
        "/api/push", json={"model": str(name_on(upstream, "me/again")), "insecure": True}
    )
    lines = [json.loads(line) for line in (await resp.text()).splitlines()]
    assert lines[0] == {"status": "retrieving manifest"}
    assert [line["status"] for line in lines[-2:]] == ["pushing manifest", "success"]
    assert ("me/again", "latest") in upstream.manifests
