"""The request pattern of Ollama's own client (server/upload.go, server/download.go), replayed exactly.

Push: HEAD blob (skip if present) -> POST uploads/ -> PATCH parts with ``X-Redirect-Uploads: 1`` and
``Content-Range: a-b``, following ``Docker-Upload-Location`` (must be absolute) -> PUT
``?digest=&etag=`` with an empty body -> PUT the Docker v2s2 manifest with Ollama's layer types.
Pull: GET manifest (Docker Accept) -> HEAD blob (Content-Length) -> GET (200 used as is) -> parallel
``Range: bytes=a-b`` GETs.
"""

from __future__ import annotations

import asyncio
import json
import os

import aiohttp

from tests.support.registry_server import RunningRegistry, sha

Http = aiohttp.ClientSession
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"


async def _ollama_push_blob(http: Http, base: str, repo: str, data: bytes, part: int) -> None:
    digest = sha(data)
    async with http.head(f"{base}/v2/{repo}/blobs/{digest}") as r:
        if r.status == 200:
            return
    async with http.post(f"{base}/v2/{repo}/blobs/uploads/") as r:
        assert r.status == 202
        location = r.headers.get("Docker-Upload-Location") or r.headers["Location"]
    assert location.startswith("http://"), "Ollama's client needs an absolute upload URL"
    for offset in range(0, len(data), part):
        chunk = data[offset : offset + part]
        headers = {
            "X-Redirect-Uploads": "1",
            "Content-Range": f"{offset}-{offset + len(chunk) - 1}",
            "Content-Type": "application/octet-stream",
        }
        async with http.patch(location, data=chunk, headers=headers, allow_redirects=False) as r:
            assert r.status == 202, await r.text()
            location = r.headers.get("Docker-Upload-Location") or r.headers["Location"]
    async with http.put(
        location, params={"digest": digest, "etag": "0123-1"}, headers={"Content-Length": "0"}
    ) as r:
        assert r.status == 201, await r.text()


async def test_ollama_push_then_pull(registry: RunningRegistry, http: Http) -> None:
    repo = "library/tiny"
    config = json.dumps({"model_format": "gguf", "model_family": "llama"}).encode()
    weights = os.urandom(3_000_000)
    template = b"{{ .Prompt }}"
    for blob in (weights, template, config):
        await _ollama_push_blob(http, registry.url, repo, blob, part=1_000_000)
    await _ollama_push_blob(http, registry.url, repo, weights, part=1_000_000)  # HEAD 200: skipped
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": DOCKER_MANIFEST,
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                "digest": sha(config),
                "size": len(config),
            },
            "layers": [
                {
                    "mediaType": "application/vnd.ollama.image.model",
                    "digest": sha(weights),
                    "size": len(weights),
                },
                {
                    "mediaType": "application/vnd.ollama.image.template",
                    "digest": sha(template),
                    "size": len(template),
                },
            ],
        }
    ).encode()
    async with http.put(
        f"{registry.url}/v2/{repo}/manifests/latest", data=manifest, headers={"Content-Type": DOCKER_MANIFEST}
    ) as r:
        assert r.status == 201

    async with http.get(
        f"{registry.url}/v2/{repo}/manifests/latest", headers={"Accept": DOCKER_MANIFEST}
    ) as r:
        assert r.status == 200 and await r.read() == manifest
    url = f"{registry.url}/v2/{repo}/blobs/{sha(weights)}"
    async with http.head(url) as r:
        size = int(r.headers["Content-Length"])
    async with http.get(url, allow_redirects=False) as r:
        assert r.status == 200  # Ollama uses the request URL directly on 200

    async def part(start: int, end: int) -> bytes:
        async with http.get(url, headers={"Range": f"bytes={start}-{end - 1}"}) as r:
            assert r.status == 206
            return await r.read()

    step = size // 16 + 1
    parts = await asyncio.gather(*(part(s, min(s + step, size)) for s in range(0, size, step)))
    assert b"".join(parts) == weights
