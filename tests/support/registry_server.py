"""Run the registry server in-process on 127.0.0.1 (port 0), and OCI client helpers for tests."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web

from registry.ociserver.http.app import build_app
from registry.ociserver.settings import ServerSettings


@dataclass
class RunningRegistry:
    """A registry server listening on loopback."""

    runner: web.AppRunner
    url: str
    app: web.Application

    @property
    def host(self) -> str:
        """``127.0.0.1:<port>``."""
        return self.url.removeprefix("http://")

    async def stop(self) -> None:
        """Stop serving and release storage."""
        await self.runner.cleanup()


async def start_registry(settings: ServerSettings) -> RunningRegistry:
    """Start a registry for ``settings`` on 127.0.0.1 with a free port."""
    app = build_app(settings)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    server = site._server
    assert server is not None
    port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return RunningRegistry(runner, f"http://127.0.0.1:{port}", app)


def sha(data: bytes) -> str:
    """``sha256:<hex>`` of ``data``."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


async def push_blob(http: aiohttp.ClientSession, base: str, repo: str, data: bytes) -> str:
    """Monolithic POST+PUT of a blob; returns its digest. Asserts 201."""
    async with http.post(f"{base}/v2/{repo}/blobs/uploads/") as r:
        assert r.status == 202, await r.text()
        location = r.headers["Location"]
    digest = sha(data)
    sep = "&" if "?" in location else "?"
    async with http.put(
        f"{location}{sep}digest={digest}", data=data, headers={"Content-Type": "application/octet-stream"}
    ) as r:
        assert r.status == 201, await r.text()
    return digest


def sha512(data: bytes) -> str:
    """``sha512:<hex>`` of ``data``."""
    return "sha512:" + hashlib.sha512(data).hexdigest()


def image_manifest(
    config: bytes, layers: list[bytes], *, digest_of: Callable[[bytes], str] = sha, **extra: Any
) -> bytes:
    """An OCI image manifest naming ``config`` and ``layers`` by ``digest_of`` (exact bytes returned)."""
    doc: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": digest_of(config),
            "size": len(config),
        },
        "layers": [
            {
                "mediaType": "application/vnd.oci.image.layer.v1.tar",
                "digest": digest_of(layer),
                "size": len(layer),
            }
            for layer in layers
        ],
    }
    doc.update(extra)
    return json.dumps(doc, indent=1).encode()


async def push_image(
    http: aiohttp.ClientSession,
    base: str,
    repo: str,
    tag: str,
    config: bytes,
    layers: list[bytes],
    **extra: Any,
) -> tuple[str, bytes]:
    """Push blobs and an OCI manifest under ``tag``; returns (manifest digest, manifest bytes)."""
    for blob in [config, *layers]:
        await push_blob(http, base, repo, blob)
    body = image_manifest(config, layers, **extra)
    async with http.put(
        f"{base}/v2/{repo}/manifests/{tag}",
        data=body,
        headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"},
    ) as r:
        assert r.status == 201, await r.text()
        assert r.headers["Docker-Content-Digest"] == sha(body)
    return sha(body), body


async def push_ollama_model(
    http: aiohttp.ClientSession,
    base: str,
    repo: str,
    tag: str,
    *,
    weights: bytes,
    config: dict[str, Any] | None = None,
    template: str | None = None,
    system: str | None = None,
    params: dict[str, Any] | None = None,
    licenses: tuple[str, ...] = (),
) -> str:
    """Push an Ollama-shaped model (config blob, model layer, text layers) under ``tag``, the way
    ``ollama-py push`` lays it out; returns the manifest digest."""
    cfg = json.dumps(
        config or {"model_format": "gguf", "model_family": "llama", "model_type": "1M", "file_type": "F32"}
    ).encode()
    layers: list[tuple[str, bytes]] = [("application/vnd.ollama.image.model", weights)]
    if template is not None:
        layers.append(("application/vnd.ollama.image.template", template.encode()))
    if system is not None:
        layers.append(("application/vnd.ollama.image.system", system.encode()))
    if params:
        layers.append(("application/vnd.ollama.image.params", json.dumps(params).encode()))
    layers += [("application/vnd.ollama.image.license", text.encode()) for text in licenses]
    for blob in [cfg, *(data for _, data in layers)]:
        await push_blob(http, base, repo, blob)
    doc = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {
            "mediaType": "application/vnd.docker.container.image.v1+json",
            "digest": sha(cfg),
            "size": len(cfg),
        },
        "layers": [{"mediaType": mt, "digest": sha(data), "size": len(data)} for mt, data in layers],
    }
    body = json.dumps(doc).encode()
    async with http.put(
        f"{base}/v2/{repo}/manifests/{tag}",
        data=body,
        headers={"Content-Type": "application/vnd.docker.distribution.manifest.v2+json"},
    ) as r:
        assert r.status == 201, await r.text()
    return sha(body)
