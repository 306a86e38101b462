"""Pull-through mirror: a second real registry in front of an upstream real registry, on loopback."""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from registry.oci.name import parse_reference
from registry.ociserver.http.keys import MANIFESTS, METRICS
from registry.ociserver.mirror.manifests import MirroredManifests
from registry.ociserver.settings import ServerSettings
from registry.store.library import Library
from tests.support.cli_process import run_cli
from tests.support.models import make_model
from tests.support.registry_server import RunningRegistry, push_image, sha, start_registry
from tests.support.upstream import DOCKER_MANIFEST, Faults
from tests.support.upstream import Upstream as FixtureUpstream

Http = aiohttp.ClientSession


@pytest.fixture
async def upstream(tmp_path: Any) -> AsyncIterator[RunningRegistry]:
    server = await start_registry(ServerSettings(root=tmp_path / "up", port=0, tag_cache_seconds=0))
    yield server
    await server.stop()


async def _mirror(tmp_path: Any, upstream_url: str, ttl: float = 300.0) -> RunningRegistry:
    return await start_registry(
        ServerSettings(
            root=tmp_path / "mirror", port=0, tag_cache_seconds=0, upstream=upstream_url, mirror_tag_ttl=ttl
        )
    )


def _blob_gets(server: RunningRegistry) -> float:
    counter = server.app[METRICS].requests
    return sum(
        sample.value
        for metric in counter.collect()
        for sample in metric.samples
        if sample.labels.get("route", "").endswith("/blobs/{digest}")
        and sample.labels.get("method") == "GET"
        and sample.name.endswith("_total")
    )


async def test_mirror_pulls_through_and_serves_cached_when_upstream_down(
    tmp_path: Any, upstream: RunningRegistry, http: Http
) -> None:
    layer = os.urandom(300_000)
    _digest, body = await push_image(http, upstream.url, "library/tiny", "latest", b"{}", [layer])
    mirror = await _mirror(tmp_path, upstream.url)
    try:
        async with http.get(f"{mirror.url}/v2/library/tiny/manifests/latest") as r:
            assert r.status == 200 and await r.read() == body
        async with http.get(f"{mirror.url}/v2/library/tiny/blobs/{sha(layer)}") as r:
            assert r.status == 200 and await r.read() == layer
        await upstream.stop()
        async with http.get(f"{mirror.url}/v2/library/tiny/manifests/latest") as r:
            assert r.status == 200 and await r.read() == body
        async with http.get(
            f"{mirror.url}/v2/library/tiny/blobs/{sha(layer)}", headers={"Range": "bytes=10-19"}
        ) as r:
            assert r.status == 206 and await r.read() == layer[10:20]
        async with http.get(f"{mirror.url}/v2/library/other/manifests/latest") as r:
            assert r.status == 502
    finally:
        await mirror.stop()


async def test_concurrent_misses_fetch_once(tmp_path: Any, upstream: RunningRegistry, http: Http) -> None:
    layer = os.urandom(2_000_000)
    await push_image(http, upstream.url, "m/r", "v1", b"{}", [layer])
    before = _blob_gets(upstream)
    mirror = await _mirror(tmp_path, upstream.url)
    try:

        async def pull() -> bytes:
            async with http.get(f"{mirror.url}/v2/m/r/blobs/{sha(layer)}") as r:
                assert r.status == 200
                return await r.read()

        bodies = await asyncio.gather(*(pull() for _ in range(6)))
        assert all(b == layer for b in bodies)
        assert _blob_gets(upstream) - before == 1
    finally:
        await mirror.stop()


async def test_tags_revalidated_after_ttl(tmp_path: Any, upstream: RunningRegistry, http: Http) -> None:
    _, first = await push_image(http, upstream.url, "m/r", "v1", b"{}", [b"one"])
    mirror = await _mirror(tmp_path, upstream.url, ttl=0.0)
    try:
        async with http.get(f"{mirror.url}/v2/m/r/manifests/v1") as r:
            assert await r.read() == first
        _, second = await push_image(http, upstream.url, "m/r", "v1", b"{}", [b"two"])
        async with http.get(f"{mirror.url}/v2/m/r/manifests/v1") as r:
            assert await r.read() == second
    finally:
        await mirror.stop()


async def test_mirror_refuses_pushes(tmp_path: Any, upstream: RunningRegistry, http: Http) -> None:
    mirror = await _mirror(tmp_path, upstream.url)
    try:
        async with http.post(f"{mirror.url}/v2/m/r/blobs/uploads/") as r:
            assert r.status == 405
            assert (await r.json())["errors"][0]["code"] == "UNSUPPORTED"
    finally:
        await mirror.stop()


def _upload_posts(server: RunningRegistry) -> float:
    counter = server.app[METRICS].requests
    return sum(
        sample.value
        for metric in counter.collect()
        for sample in metric.samples
        if sample.labels.get("route", "").endswith("/blobs/uploads/")
        and sample.labels.get("method") == "POST"
        and sample.name.endswith("_total")
    )


async def test_ollama_py_push_to_a_mirror_fails_at_once_without_retrying_the_405(
    tmp_path: Any, upstream: RunningRegistry
) -> None:
    """Issue 12: a 4xx other than 401/408/429 is an answer, not a failure to retry (a 405 was
    retried for 25 s): each blob's upload is started once, and the error says what the mirror said."""
    mirror = await _mirror(tmp_path, upstream.url)
    try:
        store = tmp_path / "store"
        library = Library.open(store)
        make_model(library, "m", weights=b"GGUF" + os.urandom(1000), system="s")
        library.close()
        host = mirror.url.removeprefix("http://")
        status, out = await run_cli(store, "cp", "m", f"{host}/team/m:v1")
        assert status == 0, out
        status, out = await run_cli(store, "push", "--insecure", f"{host}/team/m:v1")
        assert status == 1, out
        assert "405" in out and "mirror" in out, out
        assert "max retries" not in out, out
        assert _upload_posts(mirror) <= 3  # config, weights, system: one POST each
    finally:
        await mirror.stop()


async def _dying_upstream(data: bytes, digest: str) -> tuple[web.AppRunner, str]:
    """An upstream that announces the whole blob, sends half, then drops the connection."""

    async def blob(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Length": str(len(data))})
        await response.prepare(request)
        await response.write(data[: len(data) // 2])
        assert request.transport is not None
        request.transport.close()
        return response

    return await _serve_blob(digest, blob)


async def test_upstream_dies_during_fill_nothing_stored(tmp_path: Any, http: Http) -> None:
    data = os.urandom(1_000_000)
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    runner, url = await _dying_upstream(data, digest)
    mirror = await _mirror(tmp_path, url)
    try:
        with pytest.raises(aiohttp.ClientPayloadError):
            async with http.get(f"{mirror.url}/v2/m/r/blobs/{digest}") as r:
                await r.read()
        await asyncio.sleep(0.1)
        assert not list((tmp_path / "mirror" / "blobs" / "sha256").rglob("*" + digest[7:]))
        assert not list((tmp_path / "mirror" / "uploads").glob("mirror-*"))
        await runner.cleanup()
        async with http.get(f"{mirror.url}/v2/m/r/blobs/{digest}") as r:
            assert r.status == 502
    finally:
        await mirror.stop()
        await runner.cleanup()


async def _chunked_upstream(data: bytes, digest: str) -> tuple[web.AppRunner, str]:
    """An upstream that sends blobs with chunked transfer encoding (no Content-Length)."""

    async def blob(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        response.enable_chunked_encoding()
        await response.prepare(request)
        for i in range(0, len(data), 100_000):
            await response.write(data[i : i + 100_000])
        await response.write_eof()
        return response

    return await _serve_blob(digest, blob)


@pytest.mark.parametrize("honest", [True, False])
async def test_chunked_upstream_fill_stores_only_matching_bytes(
    tmp_path: Any, http: Http, honest: bool
) -> None:
    """A blob sent without Content-Length is stored when (and only when) its bytes hash to the digest."""
    data = os.urandom(1_000_000)
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    runner, url = await _chunked_upstream(data if honest else data[:-1] + b"!", digest)
    mirror = await _mirror(tmp_path, url)
    stored = tmp_path / "mirror" / "blobs" / "sha256"
    try:
        if honest:
            async with http.get(f"{mirror.url}/v2/m/r/blobs/{digest}") as r:
                assert r.status == 200 and await r.read() == data
            async with http.head(f"{mirror.url}/v2/m/r/blobs/{digest}") as r:
                assert r.status == 200 and r.headers["Content-Length"] == str(len(data))
            assert [p.read_bytes() for p in stored.rglob("*" + digest[7:])] == [data]
        else:
            async with http.head(f"{mirror.url}/v2/m/r/blobs/{digest}") as r:
                assert r.status == 400  # the fill's DigestMismatch
            assert not list(stored.rglob("*" + digest[7:]))
        assert not list((tmp_path / "mirror" / "uploads").glob("mirror-*"))
    finally:
        await mirror.stop()
        await runner.cleanup()


async def _serve_blob(
    digest: str, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> tuple[web.AppRunner, str]:
    """An upstream on loopback that answers the blob ``m/r@digest`` with ``handler``; (runner, URL)."""
    app = web.Application()
    app.router.add_get(f"/v2/m/r/blobs/{digest}", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}"


async def test_mirror_pulls_through_a_token_protected_upstream(tmp_path: Any, http: Http) -> None:
    """The mirror answers the upstream's Bearer challenge through the registry client; one token
    serves the repository's manifest and blob (the client's token cache lives as long as the mirror)."""
    protected = await FixtureUpstream(
        faults=Faults(token="secret", manifest_content_type=DOCKER_MANIFEST)
    ).start()
    layer = os.urandom(200_000)
    raw = protected.add_model("m/r", "v1", [("application/vnd.ollama.image.model", layer)])
    mirror = await _mirror(tmp_path, f"http://{protected.host}")
    try:
        async with http.get(f"{mirror.url}/v2/m/r/manifests/v1") as r:
            assert r.status == 200 and await r.read() == raw
        async with http.get(f"{mirror.url}/v2/m/r/blobs/{sha(layer)}") as r:
            assert r.status == 200 and await r.read() == layer
        assert protected.counters.token_requests == 1
    finally:
        await mirror.stop()
        await protected.stop()


async def test_mirror_fills_a_sha512_blob(tmp_path: Any, http: Http) -> None:
    """A blob named by a sha512 digest is verified with sha512 (the client hashes by the digest's algorithm)."""
    data = os.urandom(300_000)
    digest = "sha512:" + hashlib.sha512(data).hexdigest()

    async def blob(request: web.Request) -> web.StreamResponse:
        return web.Response(body=data)

    runner, url = await _serve_blob(digest, blob)
    mirror = await _mirror(tmp_path, url)
    try:
        async with http.get(f"{mirror.url}/v2/m/r/blobs/{digest}") as r:
            assert r.status == 200 and await r.read() == data
        async with http.head(f"{mirror.url}/v2/m/r/blobs/{digest}") as r:
            assert r.status == 200 and r.headers["Content-Length"] == str(len(data))
    finally:
        await mirror.stop()
        await runner.cleanup()


async def test_mirror_is_the_manifest_service_decorated(
    tmp_path: Any, upstream: RunningRegistry, http: Http
) -> None:
    """On a mirror the app's manifest service itself reads through to the upstream (no route
    branches on "is mirror" for reads): a plain ``get`` fetches, then serves the cache."""
    _, body = await push_image(http, upstream.url, "m/r", "v1", b"{}", [b"layer"])
    mirror = await _mirror(tmp_path, upstream.url)
    try:
        manifests = mirror.app[MANIFESTS]
        assert isinstance(manifests, MirroredManifests)
        assert (await manifests.get("m/r", parse_reference("v1"))).content == body
        await upstream.stop()
        assert (await manifests.get("m/r", parse_reference("v1"))).content == body
    finally:
        await mirror.stop()


async def test_blob_requests_already_linked_count_as_cache_hits(
    tmp_path: Any, upstream: RunningRegistry, http: Http
) -> None:
    """Issue 12: the second GET of a blob (now linked in the mirror's repository) is a cache hit."""
    layer = b"cached layer"
    await push_image(http, upstream.url, "m/r", "v1", b"{}", [layer])
    mirror = await _mirror(tmp_path, upstream.url)
    try:
        metrics = mirror.app[METRICS]
        for _ in range(3):
            async with http.get(f"{mirror.url}/v2/m/r/blobs/{sha(layer)}") as r:
                assert r.status == 200 and await r.read() == layer
        assert metrics.mirror_misses.labels("blob")._value.get() == 1
        assert metrics.mirror_hits.labels("blob")._value.get() == 2
    finally:
        await mirror.stop()
