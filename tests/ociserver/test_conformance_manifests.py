"""OCI conformance (oci-reference.md §2.5): manifests, tags, referrers, deletes, errors, names."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest

from tests.support.registry_server import RunningRegistry, image_manifest, push_blob, push_image, sha

Http = aiohttp.ClientSession
Reg = RunningRegistry
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"


def _codes(body: dict[str, Any]) -> list[str]:
    return [e["code"] for e in body["errors"]]


async def _put(
    http: Http, reg: Reg, repo: str, ref: str, body: bytes, ctype: str = OCI_MANIFEST, **params: Any
) -> aiohttp.ClientResponse:
    r = await http.put(
        f"{reg.url}/v2/{repo}/manifests/{ref}", data=body, headers={"Content-Type": ctype}, params=params
    )
    await r.read()
    return r


async def _blobs(http: Http, reg: Reg, repo: str, *blobs: bytes) -> None:
    for blob in blobs:
        await push_blob(http, reg.url, repo, blob)


async def test_manifest_put_by_tag_201_location_digest(registry: Reg, http: Http) -> None:
    await _blobs(http, registry, "m/r", b"{}", b"L")
    body = image_manifest(b"{}", [b"L"])
    r = await _put(http, registry, "m/r", "v1", body)
    assert r.status == 201
    assert r.headers["Docker-Content-Digest"] == sha(body)
    assert r.headers["Location"].endswith(f"/v2/m/r/manifests/{sha(body)}")


async def test_manifest_put_by_digest_and_tag_params_oci_tag(registry: Reg, http: Http) -> None:
    await _blobs(http, registry, "m/r", b"{}", b"L")
    body = image_manifest(b"{}", [b"L"])
    r = await http.put(
        f"{registry.url}/v2/m/r/manifests/{sha(body)}?tag=a&tag=b",
        data=body,
        headers={"Content-Type": OCI_MANIFEST},
    )
    assert r.status == 201
    assert r.headers.getall("OCI-Tag") == ["a", "b"]
    async with http.get(f"{registry.url}/v2/m/r/tags/list") as t:
        assert (await t.json())["tags"] == ["a", "b"]


async def test_manifest_put_unknown_blob_400_manifest_blob_unknown(registry: Reg, http: Http) -> None:
    await _blobs(http, registry, "m/r", b"{}")
    r = await _put(http, registry, "m/r", "v1", image_manifest(b"{}", [b"never pushed"]))
    assert r.status == 400
    assert _codes(await r.json()) == ["MANIFEST_BLOB_UNKNOWN"]


async def test_manifest_put_blob_from_other_repo_is_unknown(registry: Reg, http: Http) -> None:
    await _blobs(http, registry, "m/other", b"{}", b"L")
    r = await _put(http, registry, "m/r", "v1", image_manifest(b"{}", [b"L"]))
    assert _codes(await r.json()) == ["MANIFEST_BLOB_UNKNOWN"]


@pytest.mark.parametrize(
    "body", [b"not json", b"[]", b'{"schemaVersion": 1}', b'{"schemaVersion":2,"layers":[{}]}']
)
async def test_manifest_put_invalid_400_manifest_invalid(registry: Reg, http: Http, body: bytes) -> None:
    r = await _put(http, registry, "m/r", "v1", body)
    assert r.status == 400
    assert _codes(await r.json()) == ["MANIFEST_INVALID"]


async def test_manifest_put_digest_mismatch_400_digest_invalid(registry: Reg, http: Http) -> None:
    await _blobs(http, registry, "m/r", b"{}")
    r = await _put(http, registry, "m/r", sha(b"other"), image_manifest(b"{}", []))
    assert r.status == 400
    assert _codes(await r.json()) == ["DIGEST_INVALID"]


async def test_manifest_put_bad_digest_string_400(registry: Reg, http: Http) -> None:
    r = await _put(http, registry, "m/r", "sha256:baddigeststring", image_manifest(b"{}", []))
    assert r.status == 400
    async with http.get(f"{registry.url}/v2/m/r/manifests/sha256:totallywrong") as g:
        assert g.status == 400
        assert _codes(await g.json()) == ["DIGEST_INVALID"]


async def test_manifest_put_large_4mb_ok_and_over_limit_413(registry: Reg, http: Http) -> None:
    await _blobs(http, registry, "m/r", b"{}")
    annotations = {f"k{i}": "x" * 10000 for i in range(390)}
    big = image_manifest(b"{}", [], annotations=annotations)
    assert 3_900_000 < len(big) < 4 << 20
    r = await _put(http, registry, "m/r", "big", big)
    assert r.status == 201
    annotations["more"] = "y" * 300_000
    r = await _put(http, registry, "m/r", "bigger", image_manifest(b"{}", [], annotations=annotations))
    assert r.status == 413
    assert _codes(await r.json()) == ["SIZE_INVALID"]


async def test_manifest_get_by_tag_and_digest_exact_bytes(registry: Reg, http: Http) -> None:
    digest, body = await push_image(http, registry.url, "m/r", "v1", b"{}", [b"a", b"b"])
    for ref in ("v1", digest):
        async with http.get(f"{registry.url}/v2/m/r/manifests/{ref}", headers={"Accept": "*/*"}) as g:
            assert g.status == 200
            assert await g.read() == body
            assert g.headers["Content-Type"] == OCI_MANIFEST
            assert g.headers["Content-Length"] == str(len(body))
            assert g.headers["Docker-Content-Digest"] == digest
        async with http.head(f"{registry.url}/v2/m/r/manifests/{ref}") as h:
            assert h.status == 200
            assert h.headers["Content-Length"] == str(len(body))
            assert h.headers["Docker-Content-Digest"] == digest


async def test_manifest_get_oci_without_accept_header_is_served(registry: Reg, http: Http) -> None:
    _digest, body = await push_image(http, registry.url, "m/r", "v1", b"{}", [b"a"])
    async with http.get(f"{registry.url}/v2/m/r/manifests/v1", headers={"Accept": "application/json"}) as g:
        assert g.status == 200 and await g.read() == body


async def test_manifest_missing_404_manifest_unknown(registry: Reg, http: Http) -> None:
    for ref in ("nosuch", sha(b"nosuch")):
        async with http.get(f"{registry.url}/v2/m/r/manifests/{ref}") as g:
            assert g.status == 404
            assert _codes(await g.json()) == ["MANIFEST_UNKNOWN"]
        async with http.head(f"{registry.url}/v2/m/r/manifests/{ref}") as h:
            assert h.status == 404


async def test_manifest_ollama_docker_v2s2_with_ollama_layers(registry: Reg, http: Http) -> None:
    config, weights, template = b'{"model_format":"gguf"}', b"GGUF weights", b"{{ .Prompt }}"
    await _blobs(http, registry, "library/tiny", config, weights, template)
    doc = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {
            "mediaType": "application/vnd.docker.container.image.v1+json",
            "digest": sha(config),
            "size": len(config),
        },
        "layers": [
            {"mediaType": "application/vnd.ollama.image.model", "digest": sha(weights), "size": len(weights)},
            {
                "mediaType": "application/vnd.ollama.image.template",
                "digest": sha(template),
                "size": len(template),
            },
        ],
    }
    body = json.dumps(doc).encode()
    r = await _put(
        http, registry, "library/tiny", "latest", body, "application/vnd.docker.distribution.manifest.v2+json"
    )
    assert r.status == 201
    async with http.get(f"{registry.url}/v2/library/tiny/manifests/latest") as g:
        assert g.headers["Content-Type"] == "application/vnd.docker.distribution.manifest.v2+json"
        assert await g.read() == body


async def test_manifest_declared_size_must_match_stored_blob(registry: Reg, http: Http) -> None:
    await _blobs(http, registry, "m/r", b"{}", b"four")
    doc = json.loads(image_manifest(b"{}", [b"four"]))
    doc["layers"][0]["size"] = 5
    r = await _put(http, registry, "m/r", "v1", json.dumps(doc).encode())
    assert r.status == 400 and _codes(await r.json()) == ["MANIFEST_INVALID"]


async def _index(http: Http, reg: Reg, repo: str, children: list[str], **extra: Any) -> tuple[str, bytes]:
    doc: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [
            {
                "mediaType": OCI_MANIFEST,
                "digest": d,
                "size": 10,
                "platform": {"os": "linux", "architecture": "amd64"},
            }
            for d in children
        ],
    }
    doc.update(extra)
    body = json.dumps(doc).encode()
    r = await _put(http, reg, repo, "index", body, OCI_INDEX)
    assert r.status == 201, r.status
    return sha(body), body


async def test_manifest_index_nested_empty_and_sparse(registry: Reg, http: Http) -> None:
    child, _ = await push_image(http, registry.url, "m/r", "child", b"{}", [b"x"])
    index_digest, _ = await _index(http, registry, "m/r", [child])
    nested, _ = await _index(http, registry, "m/r", [index_digest])
    await _index(http, registry, "m/r", [])
    await _index(http, registry, "m/r", [child, sha(b"not pushed: sparse")])
    async with http.get(f"{registry.url}/v2/m/r/manifests/{nested}") as g:
        assert g.headers["Content-Type"] == OCI_INDEX


async def test_manifest_artifact_no_layers_data_field_custom_fields_nondistributable(
    registry: Reg, http: Http
) -> None:
    await _blobs(http, registry, "m/r", b"{}")
    empty = {
        "mediaType": "application/vnd.oci.empty.v1+json",
        "digest": sha(b"{}"),
        "size": 2,
        "data": "e30=",
    }
    docs = [
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "artifactType": "application/vnd.example.sbom",
            "config": empty,
            "layers": [],
        },
        {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": empty, "layers": [], "x-custom": {"a": 1}},
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": empty,
            "layers": [
                {
                    "mediaType": "application/vnd.oci.image.layer.nondistributable.v1.tar",
                    "digest": sha(b"far away"),
                    "size": 8,
                    "urls": ["https://example.invalid/layer"],
                }
            ],
        },
    ]
    for i, doc in enumerate(docs):
        r = await _put(http, registry, "m/r", f"t{i}", json.dumps(doc).encode())
        assert r.status == 201, (i, await r.text())


async def _referrer(http: Http, reg: Reg, subject: str, artifact_type: str, note: str) -> str:
    doc = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": artifact_type,
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": sha(b"{}"), "size": 2},
        "layers": [],
        "subject": {"mediaType": OCI_MANIFEST, "digest": subject, "size": 10},
        "annotations": {"note": note},
    }
    body = json.dumps(doc).encode()
    r = await _put(http, reg, "m/r", sha(body), body)
    assert r.status == 201
    assert r.headers["OCI-Subject"] == subject
    return sha(body)


async def test_referrers_list_filter_and_missing_subject(registry: Reg, http: Http) -> None:
    subject, _ = await push_image(http, registry.url, "m/r", "v1", b"{}", [b"s"])
    sig = await _referrer(http, registry, subject, "application/vnd.example.signature", "one")
    sbom = await _referrer(http, registry, subject, "application/vnd.example.sbom", "two")
    async with http.get(f"{registry.url}/v2/m/r/referrers/{subject}") as r:
        index = await r.json()
        assert r.headers["Content-Type"].startswith(OCI_INDEX)
        assert {m["digest"] for m in index["manifests"]} == {sig, sbom}
        assert {m["annotations"]["note"] for m in index["manifests"]} == {"one", "two"}
    async with http.get(
        f"{registry.url}/v2/m/r/referrers/{subject}", params={"artifactType": "application/vnd.example.sbom"}
    ) as r:
        assert r.headers["OCI-Filters-Applied"] == "artifactType"
        assert [m["digest"] for m in (await r.json())["manifests"]] == [sbom]
    dangling = sha(b"never pushed subject")
    ref = await _referrer(http, registry, dangling, "application/vnd.example.sbom", "dangling")
    async with http.get(f"{registry.url}/v2/m/r/referrers/{dangling}") as r:
        assert [m["digest"] for m in (await r.json())["manifests"]] == [ref]
    async with http.get(f"{registry.url}/v2/m/r/referrers/sha256:bad") as r:
        assert r.status == 400


async def _tag_all(http: Http, reg: Reg, tags: list[str]) -> None:
    await _blobs(http, reg, "m/r", b"{}")
    body = image_manifest(b"{}", [])
    for tag in tags:
        assert (await _put(http, reg, "m/r", tag, body)).status == 201


async def test_tags_list_sorted_n_last_link(registry: Reg, http: Http) -> None:
    await _tag_all(http, registry, ["b", "v1", "f", "c", "A", "e", "a", "d"])
    base = f"{registry.url}/v2/m/r/tags/list"
    async with http.get(base) as r:
        assert (await r.json()) == {"name": "m/r", "tags": ["A", "a", "b", "c", "d", "e", "f", "v1"]}
        assert "Link" not in r.headers
    async with http.get(base, params={"n": "3"}) as r:
        assert (await r.json())["tags"] == ["A", "a", "b"]
        link = r.headers["Link"]
        assert link == '</v2/m/r/tags/list?n=3&last=b>; rel="next"'
    async with http.get(registry.url + link[1 : link.index(">")]) as r:
        assert (await r.json())["tags"] == ["c", "d", "e"]
    async with http.get(base, params={"n": "0"}) as r:
        assert (await r.json())["tags"] == [] and "Link" not in r.headers
    async with http.get(base, params={"last": "d"}) as r:
        assert (await r.json())["tags"] == ["e", "f", "v1"]
    async with http.get(base, params={"n": "-1"}) as r:
        assert r.status == 400


async def test_catalog_lists_repositories_with_pagination(registry: Reg, http: Http) -> None:
    for repo in ("z/one", "a/two", "m/three"):
        await push_image(http, registry.url, repo, "v1", b"{}", [])
    async with http.get(f"{registry.url}/v2/_catalog", params={"n": "2"}) as r:
        assert (await r.json())["repositories"] == ["a/two", "m/three"]
        assert "last=m%2Fthree" in r.headers["Link"]


async def test_delete_tag_202_keeps_manifest(registry: Reg, http: Http) -> None:
    digest, _ = await push_image(http, registry.url, "m/r", "v1", b"{}", [b"x"])
    async with http.delete(f"{registry.url}/v2/m/r/manifests/v1") as d:
        assert d.status == 202
    async with http.get(f"{registry.url}/v2/m/r/manifests/v1") as g:
        assert g.status == 404
    async with http.get(f"{registry.url}/v2/m/r/manifests/{digest}") as g:
        assert g.status == 200


async def test_delete_manifest_202_removes_all_tags(registry: Reg, http: Http) -> None:
    await _tag_all(http, registry, ["a", "b"])
    digest = sha(image_manifest(b"{}", []))
    await push_image(http, registry.url, "m/r", "other", b"{}", [b"y"])
    async with http.delete(f"{registry.url}/v2/m/r/manifests/{digest}") as d:
        assert d.status == 202
    for ref in ("a", "b", digest):
        async with http.get(f"{registry.url}/v2/m/r/manifests/{ref}") as g:
            assert g.status == 404
    async with http.get(f"{registry.url}/v2/m/r/tags/list") as t:
        assert (await t.json())["tags"] == ["other"]
    async with http.delete(f"{registry.url}/v2/m/r/manifests/{digest}") as d:
        assert d.status == 404


async def test_error_body_json_shape_codes(registry: Reg, http: Http) -> None:
    async with http.get(f"{registry.url}/v2/m/r/manifests/nosuch") as g:
        body = await g.json()
        assert g.headers["Content-Type"].startswith("application/json")
        assert set(body) == {"errors"}
        (entry,) = body["errors"]
        assert entry["code"] == "MANIFEST_UNKNOWN" and isinstance(entry["message"], str)


@pytest.mark.parametrize("name", ["UPPER/case", "a//b", "-lead", "trail-", "a/../b", "a" * 256, "a..b"])
async def test_name_regex_rejects_invalid_names(registry: Reg, http: Http, name: str) -> None:
    async with http.get(f"{registry.url}/v2/{name}/tags/list") as g:
        assert g.status in (400, 404)
        if g.status == 400:
            assert _codes(await g.json()) == ["NAME_INVALID"]


async def test_invalid_tag_reference_400(registry: Reg, http: Http) -> None:
    async with http.put(f"{registry.url}/v2/m/r/manifests/.bad", data=b"{}") as r:
        assert r.status == 400
