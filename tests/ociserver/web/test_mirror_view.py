"""The web page of a pull-through mirror: which models are cached, how many of each tag's bytes, and
when each tag was last refreshed; a page view never fetches from the upstream."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from registry.ociserver.settings import ServerSettings
from tests.support.registry_server import RunningRegistry, push_ollama_model, sha, start_registry

Http = aiohttp.ClientSession


@pytest.fixture
async def upstream(tmp_path: Path) -> AsyncIterator[RunningRegistry]:
    server = await start_registry(ServerSettings(root=tmp_path / "up", port=0, tag_cache_seconds=0))
    yield server
    await server.stop()


@pytest.fixture
async def mirror(tmp_path: Path, upstream: RunningRegistry) -> AsyncIterator[RunningRegistry]:
    server = await start_registry(
        ServerSettings(root=tmp_path / "mirror", port=0, tag_cache_seconds=0, upstream=upstream.url)
    )
    yield server
    await server.stop()


async def test_mirror_view_shows_cached_tags_bytes_and_refresh_times(
    upstream: RunningRegistry, mirror: RunningRegistry, http: Http
) -> None:
    config = {"model_format": "gguf", "model_family": "llama", "file_type": "Q4_0"}
    weights = b"w" * 5000
    await push_ollama_model(
        http, upstream.url, "library/cached", "latest", weights=weights, config=config, template="T <b>"
    )
    await push_ollama_model(http, upstream.url, "library/never-pulled", "latest", weights=b"z", config=config)
    async with http.get(f"{mirror.url}/ui/api/mirror") as r:
        assert (await r.json())["models"] == []  # nothing cached yet
    before = time.time()
    async with http.get(f"{mirror.url}/v2/library/cached/manifests/latest") as r:
        manifest = json.loads(await r.read())
    cfg = manifest["config"]
    async with http.get(f"{mirror.url}/v2/library/cached/blobs/{cfg['digest']}") as r:
        assert r.status == 200
        await r.read()
    total = cfg["size"] + sum(layer["size"] for layer in manifest["layers"])

    async with http.get(f"{mirror.url}/ui/api/mirror") as r:
        view = await r.json()
    assert view["upstream"] == upstream.url
    (model,) = view["models"]
    assert model["name"] == "library/cached"
    (tag,) = model["tags"]
    assert tag["tag"] == "latest" and tag["size"] == total
    assert tag["cached_bytes"] == cfg["size"]  # only the config came through so far
    assert before - 1 <= tag["refreshed_at"] <= time.time() + 1

    async with http.get(f"{mirror.url}/ui/mirror") as r:
        page = await r.text()
    assert "library/cached" in page and "never-pulled" not in page
    assert "Last refreshed" in page

    # The model page shows what is here and says what is not; it fetches nothing upstream.
    async with http.get(f"{mirror.url}/ui/models/library/cached") as r:
        page = await r.text()
    assert "Not cached on this mirror yet" in page
    assert 'id="fact-quantization">Q4_0<' in page
    async with http.get(f"{mirror.url}/ui/api/models/library/cached") as r:
        detail = await r.json()
    assert detail["layers"] == [
        {"kind": "template", "digest": sha(b"T <b>"), "size": 5, "text": None, "truncated": False}
    ]
    async with http.get(f"{mirror.url}/ui/api/mirror") as r:
        assert (await r.json())["models"][0]["tags"][0]["cached_bytes"] == cfg["size"]

    # Once pulled, the bytes count as cached and the text shows.
    for layer in manifest["layers"]:
        async with http.get(f"{mirror.url}/v2/library/cached/blobs/{layer['digest']}") as r:
            await r.read()
    async with http.get(f"{mirror.url}/ui/api/mirror") as r:
        assert (await r.json())["models"][0]["tags"][0]["cached_bytes"] == total
    async with http.get(f"{mirror.url}/ui/models/library/cached") as r:
        assert "T &lt;b&gt;" in await r.text()
