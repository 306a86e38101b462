from __future__ import annotations

import aiohttp

from tests.support.registry_server import RunningRegistry, push_image


async def test_push_and_pull_image(registry: RunningRegistry, http: aiohttp.ClientSession) -> None:
    digest, body = await push_image(http, registry.url, "a/b", "v1", b"{}", [b"layer-one"])
    async with http.get(f"{registry.url}/v2/a/b/manifests/v1") as r:
        assert r.status == 200
        assert await r.read() == body
        assert r.headers["Docker-Content-Digest"] == digest
