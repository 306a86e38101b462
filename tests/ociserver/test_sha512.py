"""sha512 digests (the conformance suite's ``sha512 blobs``, ``sha512`` and ``tag-param-sha512``):
blobs pushed by every method, manifests put by a sha512 digest (with ``?tag=``) and naming sha512
blobs, mounts, deletes and garbage collection."""

from __future__ import annotations

import os
import time

import aiohttp
import pytest

from registry.ociserver.gc import collect_garbage
from registry.ociserver.http.keys import STORE
from tests.support.registry_server import RunningRegistry, image_manifest, sha512

Http = aiohttp.ClientSession
Reg = RunningRegistry


async def _push512(http: Http, reg: Reg, repo: str, data: bytes, method: str = "post_put") -> str:
    digest = sha512(data)
    base = f"{reg.url}/v2/{repo}/blobs/uploads/"
    if method == "post_only":
        async with http.post(base, params={"digest": digest}, data=data) as r:
            assert r.status == 201, await r.text()
            assert r.headers["Docker-Content-Digest"] == digest
        return digest
    async with http.post(base) as r:
        assert r.status == 202
        location = r.headers["Location"]
    if method == "post_put":
        put = await http.put(location, params={"digest": digest}, data=data)
    else:  # chunked: two PATCHes with Content-Range, then an empty PUT
        half = len(data) // 2
        for start, piece in ((0, data[:half]), (half, data[half:])):
            headers = {"Content-Range": f"{start}-{start + len(piece) - 1}"}
            async with http.patch(location, data=piece, headers=headers) as p:
                assert p.status == 202, await p.text()
                location = p.headers["Location"]
        put = await http.put(location, params={"digest": digest})
    assert put.status == 201, await put.text()
    assert put.headers["Docker-Content-Digest"] == digest
    put.release()
    return digest


@pytest.mark.parametrize("method", ["post_only", "post_put", "chunked"])
async def test_sha512_blob_push_head_get_range_delete(registry: Reg, http: Http, method: str) -> None:
    data = os.urandom(2048)
    digest = await _push512(http, registry, "s512/blobs", data, method)
    url = f"{registry.url}/v2/s512/blobs/blobs/{digest}"
    async with http.head(url) as r:
        assert r.status == 200 and r.headers["Content-Length"] == "2048"
        assert r.headers["Docker-Content-Digest"] == digest
    async with http.get(url) as r:
        assert await r.read() == data
    async with http.get(url, headers={"Range": "bytes=500-1499"}) as r:
        assert r.status == 206 and await r.read() == data[500:1500]
    async with http.delete(url) as r:
        assert r.status == 202
    async with http.get(url) as r:
        assert r.status == 404


async def test_sha512_bad_digest_is_digest_invalid(registry: Reg, http: Http) -> None:
    base = f"{registry.url}/v2/s512/bad/blobs/uploads/"
    for digest in (sha512(b"other"), "sha512:" + "a" * 64, "sha384:" + "a" * 96):
        async with http.post(base, params={"digest": digest}, data=b"data") as r:
            assert r.status == 400
            assert [e["code"] for e in (await r.json())["errors"]] == ["DIGEST_INVALID"]


async def test_sha512_blob_mount(registry: Reg, http: Http) -> None:
    digest = await _push512(http, registry, "s512/source", b"shared")
    async with http.post(
        f"{registry.url}/v2/s512/target/blobs/uploads/", params={"mount": digest, "from": "s512/source"}
    ) as r:
        assert r.status == 201 and r.headers["Docker-Content-Digest"] == digest


async def test_manifest_put_by_sha512_digest_with_tag_param(registry: Reg, http: Http) -> None:
    config, layer = b"{}", os.urandom(1000)
    blobs = [await _push512(http, registry, "s512/image", b) for b in (config, layer)]
    manifest = image_manifest(config, [layer], digest_of=sha512)
    digest = sha512(manifest)
    media = "application/vnd.oci.image.manifest.v1+json"
    async with http.put(
        f"{registry.url}/v2/s512/image/manifests/{digest}",
        params={"tag": "v1"},
        data=manifest,
        headers={"Content-Type": media},
    ) as r:
        assert r.status == 201, await r.text()
        assert r.headers["Docker-Content-Digest"] == digest
        assert r.headers["Location"].endswith(f"/v2/s512/image/manifests/{digest}")
    for reference in (digest, "v1"):
        async with http.get(f"{registry.url}/v2/s512/image/manifests/{reference}") as r:
            assert r.status == 200 and await r.read() == manifest
            assert r.headers["Docker-Content-Digest"] == digest
            assert r.headers["Content-Type"] == media
        async with http.head(f"{registry.url}/v2/s512/image/manifests/{reference}") as r:
            assert r.status == 200 and r.headers["Docker-Content-Digest"] == digest
    async with http.get(f"{registry.url}/v2/s512/image/tags/list") as r:
        assert (await r.json())["tags"] == ["v1"]
    # the same bytes under a sha512 digest they do not have are refused
    async with http.put(
        f"{registry.url}/v2/s512/image/manifests/{sha512(b'x')}",
        data=manifest,
        headers={"Content-Type": media},
    ) as r:
        assert r.status == 400
    # referenced sha512 blobs survive garbage collection; deleting the manifest frees them
    store = registry.app[STORE]
    report = await collect_garbage(store, grace=0, upload_max_age=3600, now=time.time() + 1)
    assert not report.blobs
    async with http.delete(f"{registry.url}/v2/s512/image/manifests/{digest}") as r:
        assert r.status == 202
    report = await collect_garbage(store, grace=0, upload_max_age=3600, now=time.time() + 1)
    assert {str(d) for d in report.blobs} == set(blobs)
