"""Pull against a real aiohttp registry on loopback: statuses, skip, dedup, redirects, auth."""

from __future__ import annotations

import asyncio
import hashlib

import pytest

from registry.errors import InvalidName, ModelNotFound
from registry.oci.name import ModelName
from registry.remote.pull import pull_model
from registry.store.library import Library
from tests.remote.helpers import FAST, name_on, pull_all, serve_model
from tests.support.upstream import Upstream


async def test_pull_statuses_and_result(library: Library, upstream: Upstream) -> None:
    data = serve_model(upstream)
    events = await pull_all(library, name_on(upstream))
    statuses = [e.status for e in events]
    assert statuses[0] == "pulling manifest"
    assert statuses[-3:] == ["verifying sha256 digest", "writing manifest", "success"]
    weights_hex = hashlib.sha256(data).hexdigest()
    layer_events = [e for e in events if e.digest == f"sha256:{weights_hex}"]
    assert layer_events[0].status == f"pulling {weights_hex[:12]}"
    assert layer_events[-1].completed == layer_events[-1].total == len(data)
    row = library.get_model(name_on(upstream))
    assert (
        row.manifest.digest.hex == hashlib.sha256(upstream.manifests[("library/tiny", "latest")]).hexdigest()
    )
    assert library.verify().ok
    assert upstream.counters.served[weights_hex] == len(data)


async def test_second_pull_transfers_nothing(library: Library, upstream: Upstream) -> None:
    data = serve_model(upstream)
    await pull_all(library, name_on(upstream))
    served = sum(upstream.counters.served.values())
    events = await pull_all(library, name_on(upstream))
    assert sum(upstream.counters.served.values()) == served
    weights_hex = hashlib.sha256(data).hexdigest()
    skipped = [e for e in events if e.digest == f"sha256:{weights_hex}"]
    assert len(skipped) == 1 and skipped[0].completed == len(data)


async def test_concurrent_pulls_share_bytes(library: Library, upstream: Upstream) -> None:
    data = serve_model(upstream, size=3 << 20)
    upstream.faults.send_delay = 0.001
    await asyncio.gather(pull_all(library, name_on(upstream)), pull_all(library, name_on(upstream)))
    weights_hex = hashlib.sha256(data).hexdigest()
    assert upstream.counters.served[weights_hex] == len(data)
    assert library.find_model(name_on(upstream)) is not None


async def test_redirect_to_cdn_gets_no_credentials(
    library: Library, upstream: Upstream, cdn: Upstream
) -> None:
    data = serve_model(upstream)
    upstream.faults.redirect_to = f"http://{cdn.host}"
    upstream.faults.token = "sekrit"
    await pull_all(library, name_on(upstream))
    weights_hex = hashlib.sha256(data).hexdigest()
    assert cdn.counters.served[weights_hex] == len(data)
    assert upstream.counters.served[weights_hex] == 0
    assert all(auth is None for _, _, auth in cdn.counters.requests)
    assert upstream.counters.token_requests >= 1
    assert any(auth == "Bearer sekrit" for _, _, auth in upstream.counters.requests)


async def test_missing_manifest_is_ollamas_error(library: Library, upstream: Upstream) -> None:
    with pytest.raises(ModelNotFound, match="pull model manifest: file does not exist"):
        await pull_all(library, name_on(upstream, "library/nope"))


async def test_http_needs_insecure(library: Library, upstream: Upstream) -> None:
    serve_model(upstream)
    name = ModelName.parse(f"http://{upstream.host}/library/tiny")
    with pytest.raises(InvalidName, match="insecure"):
        async for _ in pull_model(library, name, options=FAST):
            pass


async def test_retag_removes_unused_layers(library: Library, upstream: Upstream) -> None:
    old = serve_model(upstream, size=1000)
    await pull_all(library, name_on(upstream))
    upstream.add_model(
        "library/tiny", "latest", [("application/vnd.ollama.image.model", b"new weights" * 100)]
    )
    events = await pull_all(library, name_on(upstream))
    assert "removing unused layers" in [e.status for e in events]
    from registry.oci.digest import sha256_of

    assert not library.has_blob(sha256_of(old))


async def test_empty_layer_and_digest_reference(library: Library, upstream: Upstream) -> None:
    raw = upstream.add_model("library/empty", "latest", [("application/vnd.ollama.image.system", b"")])
    pinned = ModelName.parse(f"{upstream.host}/library/empty:latest@sha256:{hashlib.sha256(raw).hexdigest()}")
    await pull_all(library, pinned)
    assert library.get_model(pinned).manifest.digest.hex == hashlib.sha256(raw).hexdigest()
    assert library.verify().ok
