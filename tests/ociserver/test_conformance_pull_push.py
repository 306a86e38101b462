"""OCI distribution-spec conformance (oci-reference.md §2.5): ping, blob pull, every push method."""

from __future__ import annotations

import os

import aiohttp
import pytest

from tests.support.registry_server import RunningRegistry, push_blob, sha

Http = aiohttp.ClientSession
Reg = RunningRegistry


async def _post(http: Http, reg: Reg, repo: str = "conf/repo", **params: str) -> aiohttp.ClientResponse:
    r = await http.post(f"{reg.url}/v2/{repo}/blobs/uploads/", params=params)
    await r.read()
    return r


def _errors(body: dict) -> list[str]:  # type: ignore[type-arg]
    return [e["code"] for e in body["errors"]]


async def test_ping_v2_returns_200(registry: Reg, http: Http) -> None:
    async with http.get(f"{registry.url}/v2/") as r:
        assert r.status == 200


async def test_tags_list_on_empty_repo_200_or_404(registry: Reg, http: Http) -> None:
    async with http.get(f"{registry.url}/v2/nothing/here/tags/list") as r:
        assert r.status == 404
        assert _errors(await r.json()) == ["NAME_UNKNOWN"]


async def test_referrers_unknown_subject_returns_empty_index(registry: Reg, http: Http) -> None:
    async with http.get(f"{registry.url}/v2/conf/repo/referrers/{sha(b'nothing')}") as r:
        assert r.status == 200
        assert r.headers["Content-Type"].startswith("application/vnd.oci.image.index.v1+json")
        body = await r.json()
        assert body["manifests"] == [] and body["schemaVersion"] == 2


async def test_blob_head_get_missing_404_blob_unknown(registry: Reg, http: Http) -> None:
    url = f"{registry.url}/v2/conf/repo/blobs/{sha(b'missing')}"
    async with http.head(url) as r:
        assert r.status == 404
    async with http.get(url) as r:
        assert r.status == 404
        assert _errors(await r.json()) == ["BLOB_UNKNOWN"]


async def test_blob_push_post_only_single_request_201(registry: Reg, http: Http) -> None:
    data = os.urandom(3000)
    url = f"{registry.url}/v2/conf/repo/blobs/uploads/?digest={sha(data)}"
    async with http.post(url, data=data, headers={"Content-Type": "application/octet-stream"}) as r:
        assert r.status == 201
        assert r.headers["Docker-Content-Digest"] == sha(data)
        location = r.headers["Location"]
    async with http.get(location) as r:
        assert r.status == 200 and await r.read() == data


async def test_blob_push_post_put_monolithic_201_location_digest_header(registry: Reg, http: Http) -> None:
    data = os.urandom(5000)
    r = await _post(http, registry)
    assert r.status == 202
    assert r.headers["Location"] and r.headers["Range"] == "0-0"
    async with http.put(r.headers["Location"], params={"digest": sha(data)}, data=data) as put:
        assert put.status == 201
        assert put.headers["Location"].endswith(f"/v2/conf/repo/blobs/{sha(data)}")
        assert put.headers["Docker-Content-Digest"] == sha(data)
    async with http.get(f"{registry.url}/v2/conf/repo/blobs/{sha(data)}") as got:
        assert got.status == 200 and await got.read() == data
        assert got.headers["Docker-Content-Digest"] == sha(data)


async def test_blob_push_stream_patch_without_content_range(registry: Reg, http: Http) -> None:
    data = os.urandom(10000)
    r = await _post(http, registry)
    async with http.patch(r.headers["Location"], data=data) as p:
        assert p.status == 202
        assert p.headers["Range"] == f"0-{len(data) - 1}"
        location = p.headers["Location"]
    async with http.put(location, params={"digest": sha(data)}) as put:
        assert put.status == 201


async def _chunked(
    http: Http, reg: Reg, data: bytes, sizes: list[int], put_last: bool
) -> aiohttp.ClientResponse:
    r = await _post(http, reg)
    location = r.headers["Location"]
    offset = 0
    pieces = []
    for size in sizes:
        pieces.append(data[offset : offset + size])
        offset += size
    last = pieces.pop() if put_last else b""
    start = 0
    for piece in pieces:
        headers = {
            "Content-Range": f"{start}-{start + len(piece) - 1}",
            "Content-Type": "application/octet-stream",
        }
        async with http.patch(location, data=piece, headers=headers) as p:
            assert p.status == 202, await p.text()
            assert p.headers["Range"] == f"0-{start + len(piece) - 1}"
            location = p.headers["Location"]
        start += len(piece)
    headers = {"Content-Range": f"{start}-{start + len(last) - 1}"} if last else {}
    put = await http.put(location, params={"digest": sha(data)}, data=last, headers=headers)
    await put.read()
    return put


@pytest.mark.parametrize(
    ("sizes", "put_last"),
    [([3000], False), ([1024, 1024, 952], False), ([1024, 1024, 952], True)],
    ids=["single", "multi", "multi_put_last_chunk"],
)
async def test_blob_push_chunked(registry: Reg, http: Http, sizes: list[int], put_last: bool) -> None:
    data = os.urandom(sum(sizes))
    put = await _chunked(http, registry, data, sizes, put_last)
    assert put.status == 201
    async with http.get(f"{registry.url}/v2/conf/repo/blobs/{sha(data)}") as got:
        assert await got.read() == data


async def test_blob_push_chunked_out_of_order_416_then_get_status_204_range_then_resume(
    registry: Reg, http: Http
) -> None:
    data = os.urandom(42)
    r = await _post(http, registry)
    location = r.headers["Location"]
    async with http.patch(location, data=data[22:], headers={"Content-Range": "22-41"}) as p:
        assert p.status == 416
        assert p.headers["Range"] == "0-0"
    async with http.patch(location, data=data[:22], headers={"Content-Range": "0-21"}) as p:
        assert p.status == 202 and p.headers["Range"] == "0-21"
    async with http.get(location) as s:
        assert s.status == 204
        assert s.headers["Range"] == "0-21" and s.headers["Location"]
    async with http.patch(location, data=data[22:], headers={"Content-Range": "22-41"}) as p:
        assert p.status == 202 and p.headers["Range"] == "0-41"
    async with http.put(location, params={"digest": sha(data)}) as put:
        assert put.status == 201


async def test_blob_push_chunk_retry_same_range_416(registry: Reg, http: Http) -> None:
    data = os.urandom(42)
    r = await _post(http, registry)
    location = r.headers["Location"]
    async with http.patch(location, data=data[:22], headers={"Content-Range": "0-21"}) as p:
        assert p.status == 202
    async with http.patch(location, data=data[:22], headers={"Content-Range": "0-21"}) as p:
        assert p.status == 416
        assert p.headers["Range"] == "0-21"


async def test_blob_upload_status_get_204_location_range(registry: Reg, http: Http) -> None:
    r = await _post(http, registry)
    async with http.get(r.headers["Location"]) as s:
        assert s.status == 204
        assert s.headers["Range"] == "0-0"
        assert s.headers["Location"] == r.headers["Location"]


async def test_blob_upload_cancel_delete_204_then_404(registry: Reg, http: Http) -> None:
    r = await _post(http, registry)
    async with http.delete(r.headers["Location"]) as d:
        assert d.status == 204
    async with http.get(r.headers["Location"]) as s:
        assert s.status == 404
        assert _errors(await s.json()) == ["BLOB_UPLOAD_UNKNOWN"]


@pytest.mark.parametrize("method", ["post_only", "post_put", "chunked", "chunked_put", "stream"])
async def test_blob_push_bad_digest_400_digest_invalid(registry: Reg, http: Http, method: str) -> None:
    data = os.urandom(2048)
    wrong = sha(b"something else")
    base = f"{registry.url}/v2/conf/repo/blobs/uploads/"
    if method == "post_only":
        resp = await http.post(base, params={"digest": wrong}, data=data)
    else:
        r = await _post(http, registry)
        loc = r.headers["Location"]
        if method == "post_put":
            resp = await http.put(loc, params={"digest": wrong}, data=data)
        elif method == "chunked_put":
            resp = await http.put(
                loc, params={"digest": wrong}, data=data, headers={"Content-Range": "0-2047"}
            )
        else:
            headers = {"Content-Range": "0-2047"} if method == "chunked" else {}
            async with http.patch(loc, data=data, headers=headers) as p:
                assert p.status == 202
                loc = p.headers["Location"]
            resp = await http.put(loc, params={"digest": wrong})
    assert resp.status == 400
    assert _errors(await resp.json()) == ["DIGEST_INVALID"]
    async with http.head(f"{registry.url}/v2/conf/repo/blobs/{wrong}") as h:
        assert h.status == 404


async def test_bad_digest_keeps_session_for_a_retry(registry: Reg, http: Http) -> None:
    data = os.urandom(100)
    r = await _post(http, registry)
    async with http.put(r.headers["Location"], params={"digest": sha(b"x")}, data=data) as put:
        assert put.status == 400
    async with http.put(r.headers["Location"], params={"digest": sha(data)}) as put:
        assert put.status == 201


@pytest.mark.parametrize("data", [b"", b"{}"], ids=["empty", "empty_json"])
async def test_blob_push_empty_blob_and_empty_json(registry: Reg, http: Http, data: bytes) -> None:
    digest = await push_blob(http, registry.url, "conf/repo", data)
    async with http.get(f"{registry.url}/v2/conf/repo/blobs/{digest}") as got:
        assert got.status == 200 and await got.read() == data


async def test_blob_mount_from_repo_201(registry: Reg, http: Http) -> None:
    digest = await push_blob(http, registry.url, "conf/source", b"shared layer")
    r = await _post(http, registry, "conf/target", mount=digest, **{"from": "conf/source"})
    assert r.status == 201
    assert r.headers["Location"].endswith(f"/v2/conf/target/blobs/{digest}")
    assert r.headers["Docker-Content-Digest"] == digest
    async with http.get(f"{registry.url}/v2/conf/target/blobs/{digest}") as got:
        assert await got.read() == b"shared layer"


async def test_blob_mount_anonymous_201(registry: Reg, http: Http) -> None:
    digest = await push_blob(http, registry.url, "conf/source", b"auto discovered")
    r = await _post(http, registry, "conf/other", mount=digest)
    assert r.status == 201


async def test_blob_mount_missing_202_session(registry: Reg, http: Http) -> None:
    r = await _post(http, registry, "conf/target", mount=sha(b"nope"), **{"from": "conf/source"})
    assert r.status == 202
    assert "/blobs/uploads/" in r.headers["Location"]


async def test_blob_mount_from_a_repo_without_the_blob_is_a_session(registry: Reg, http: Http) -> None:
    digest = await push_blob(http, registry.url, "conf/source", b"only in source")
    r = await _post(http, registry, "conf/target", mount=digest, **{"from": "conf/elsewhere"})
    assert r.status == 202


async def test_blob_is_repository_scoped(registry: Reg, http: Http) -> None:
    digest = await push_blob(http, registry.url, "conf/a", b"private to a")
    async with http.head(f"{registry.url}/v2/conf/b/blobs/{digest}") as h:
        assert h.status == 404


@pytest.mark.parametrize(
    ("header", "status", "span"),
    [
        ("bytes=500-1499", 206, (500, 1500)),
        ("bytes=500-", 206, (500, 2048)),
        ("bytes=-500", 206, (1548, 2048)),
        ("bytes=2000-5000", 206, (2000, 2048)),
        ("bytes=500-0", 416, None),
        ("bytes=5000-10000", 416, None),
    ],
)
async def test_blob_get_range(
    registry: Reg, http: Http, header: str, status: int, span: tuple[int, int] | None
) -> None:
    data = os.urandom(2048)
    digest = await push_blob(http, registry.url, "conf/repo", data)
    async with http.get(f"{registry.url}/v2/conf/repo/blobs/{digest}", headers={"Range": header}) as r:
        assert r.status == status
        body = await r.read()
        if span is not None:
            assert body == data[span[0] : span[1]]
            assert r.headers["Content-Range"] == f"bytes {span[0]}-{span[1] - 1}/2048"
            assert int(r.headers["Content-Length"]) == span[1] - span[0]


async def test_blob_head_has_content_length_and_digest(registry: Reg, http: Http) -> None:
    data = os.urandom(777)
    digest = await push_blob(http, registry.url, "conf/repo", data)
    async with http.head(f"{registry.url}/v2/conf/repo/blobs/{digest}") as r:
        assert r.status == 200
        assert r.headers["Content-Length"] == "777"
        assert r.headers["Docker-Content-Digest"] == digest
        assert await r.read() == b""


async def test_delete_blob_202_then_404(registry: Reg, http: Http) -> None:
    digest = await push_blob(http, registry.url, "conf/repo", b"to delete")
    async with http.delete(f"{registry.url}/v2/conf/repo/blobs/{digest}") as d:
        assert d.status == 202
    async with http.get(f"{registry.url}/v2/conf/repo/blobs/{digest}") as g:
        assert g.status == 404
