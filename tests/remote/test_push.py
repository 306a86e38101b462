"""Push against the loopback upstream: skip, mount, monolithic, chunked, resume."""

from __future__ import annotations

import hashlib
from dataclasses import replace

import pytest

from registry.errors import ModelNotFound
from registry.oci.name import ModelName
from registry.remote.options import TransferOptions
from registry.remote.push import push_model
from registry.store.library import Library, Progress
from tests.remote.helpers import FAST, weights
from tests.support.models import make_model
from tests.support.upstream import Upstream


async def push_all(library: Library, name: ModelName, options: TransferOptions = FAST) -> list[Progress]:
    return [e async for e in push_model(library, name, insecure=True, options=options)]


def local_model(
    library: Library, upstream: Upstream, size: int = 1 << 20, repo: str = "me/tiny"
) -> tuple[ModelName, bytes]:
    data = weights(size, seed=7)
    name = ModelName.parse(f"{upstream.host}/{repo}:v1")
    make_model(library, str(name), weights=data, template="{{ .Prompt }}")
    return name, data


async def test_push_sends_blobs_then_exact_manifest(library: Library, upstream: Upstream) -> None:
    name, data = local_model(library, upstream)
    events = await push_all(library, name)
    statuses = [e.status for e in events]
    assert statuses[0] == "retrieving manifest"
    assert statuses[-2:] == ["pushing manifest", "success"]
    hexd = hashlib.sha256(data).hexdigest()
    assert f"pushing {hexd[:12]}" in statuses
    assert upstream.blobs[hexd] == data
    local = library.manifest_of(library.get_model(name))
    assert upstream.manifests[("me/tiny", "v1")] == local.raw


async def test_chunked_push_and_second_push_skips(library: Library, upstream: Upstream) -> None:
    name, _data = local_model(library, upstream, size=3 << 20)
    opts = replace(FAST, monolithic_limit=1 << 20, upload_chunk=1 << 20)
    await push_all(library, name, opts)
    patches = [r for r in upstream.counters.requests if r[0] == "PATCH"]
    assert len(patches) == 3
    received = upstream.counters.received
    await push_all(library, name, opts)
    assert upstream.counters.received == received


async def test_push_resumes_after_dropped_patch(library: Library, upstream: Upstream) -> None:
    name, data = local_model(library, upstream, size=4 << 20)
    upstream.faults.patch_drop_after, upstream.faults.patch_drop_times = 512 * 1024, 1
    opts = replace(FAST, monolithic_limit=1 << 20, upload_chunk=2 << 20)
    await push_all(library, name, opts)
    assert upstream.blobs[hashlib.sha256(data).hexdigest()] == data
    # The dropped PATCH's bytes that arrived were kept: nothing was sent twice beyond one read buffer.
    assert upstream.counters.received <= len(data) + 2 * (1 << 20)


async def test_cross_repo_mount(library: Library, upstream: Upstream) -> None:
    name, data = local_model(library, upstream)
    await push_all(library, name)
    other = ModelName.parse(f"{upstream.host}/me/copy:v1")
    library.copy(name, other)
    received = upstream.counters.received
    await push_all(library, other)
    assert upstream.counters.received == received
    assert any(r[0] == "POST" and "uploads" in r[1] for r in upstream.counters.requests)
    assert hashlib.sha256(data).hexdigest() in upstream.repo_blobs["me/copy"]


async def test_push_unknown_model(library: Library, upstream: Upstream) -> None:
    with pytest.raises(ModelNotFound):
        await push_all(library, ModelName.parse(f"{upstream.host}/me/none:v1"))
