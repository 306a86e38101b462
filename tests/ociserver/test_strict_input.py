"""Issue 10, items 10 and 11 (registry): names, tags, digests and upload ids must match their grammar
in full (no trailing newline slips through ``$``), every such refusal is a 4xx with a message (never a
dropped connection), and a manifest nested absurdly deep, or with a number too long to convert, is
400 MANIFEST_INVALID rather than a 500."""

from __future__ import annotations

import json

import aiohttp
import pytest

from registry.errors import InvalidDigest, InvalidName, InvalidTag, UploadNotFound
from registry.oci.digest import Digest
from registry.oci.name import ModelName, parse_reference, validate_repo, validate_tag
from registry.ociserver.upload_ids import validate_upload_id
from tests.support.registry_server import RunningRegistry, image_manifest, push_blob

Http = aiohttp.ClientSession
Reg = RunningRegistry

MANIFEST_TYPE = {"Content-Type": "application/vnd.oci.image.manifest.v1+json"}
HEX = "a" * 64


def test_grammar_checks_refuse_a_trailing_newline() -> None:
    with pytest.raises(InvalidTag):
        validate_tag("v1\n")
    with pytest.raises(InvalidName):
        validate_repo("library/model\n")
    with pytest.raises(UploadNotFound):
        validate_upload_id("0" * 32 + "\n")
    with pytest.raises(InvalidDigest):
        parse_reference(f"sha256:{HEX}\n")
    with pytest.raises(InvalidDigest):
        Digest.parse(f"sha256:{HEX}\n")
    with pytest.raises(InvalidDigest):
        Digest(HEX[:63] + "\n")
    with pytest.raises(InvalidName):
        ModelName(model="model", tag="v1\n")  # (parse strips what a person typed; the parts may not)


async def _pushed_manifest(http: Http, reg: Reg) -> bytes:
    config, layer = b"{}", b"layer"
    for blob in (config, layer):
        await push_blob(http, reg.url, "strict/repo", blob)
    return image_manifest(config, [layer])


async def _error(r: aiohttp.ClientResponse) -> dict[str, str]:
    error: dict[str, str] = (await r.json())["errors"][0]
    assert error["message"]
    return error


async def test_manifest_put_with_a_newline_tag_is_400_tag_invalid(registry: Reg, http: Http) -> None:
    body = await _pushed_manifest(http, registry)
    url = f"{registry.url}/v2/strict/repo/manifests/v1%0A"
    async with http.put(url, data=body, headers=MANIFEST_TYPE) as r:
        assert r.status == 400
        assert (await _error(r))["code"] == "TAG_INVALID"
    async with http.get(f"{registry.url}/v2/strict/repo/tags/list") as r:
        assert (await r.json())["tags"] == []  # nothing was stored


async def test_manifest_put_with_a_newline_tag_parameter_is_400_tag_invalid(
    registry: Reg, http: Http
) -> None:
    body = await _pushed_manifest(http, registry)
    url = f"{registry.url}/v2/strict/repo/manifests/v1?tag=v2%0A"
    async with http.put(url, data=body, headers=MANIFEST_TYPE) as r:
        assert r.status == 400
        assert (await _error(r))["code"] == "TAG_INVALID"
    async with http.get(f"{registry.url}/v2/strict/repo/manifests/v1") as r:
        assert r.status == 404


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("/v2/strict/repo%0A/manifests/v1", 404, "UNSUPPORTED"),  # no route: the name pattern stops at "\n"
        (f"/v2/strict/repo/blobs/sha256:{HEX}%0A", 400, "DIGEST_INVALID"),
        (f"/v2/strict/repo/manifests/sha256:{HEX}%0A", 400, "DIGEST_INVALID"),
        ("/v2/strict/repo/blobs/uploads/" + "0" * 32 + "%0A", 404, "BLOB_UPLOAD_UNKNOWN"),
    ],
)
async def test_newline_suffixes_in_urls_are_refused(
    registry: Reg, http: Http, path: str, status: int, code: str
) -> None:
    async with http.get(f"{registry.url}{path}") as r:
        assert r.status == status
        assert (await _error(r))["code"] == code


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 1000 + b"]" * 1000,
        b'{"schemaVersion": 2, "annotations": {"a": ' + b"[" * 1000 + b"]" * 1000 + b"}}",
        b'{"schemaVersion": 2, "annotations": {"a": ' + b"[" * 100 + b"]" * 100 + b"}}",
        b'{"schemaVersion": 2, "layers": [{"size": 1' + b"0" * 5000 + b"}]}",
    ],
    ids=["nested-1000", "nested-in-annotations", "nested-100", "5000-digit-number"],
)
async def test_hostile_manifest_json_is_400_manifest_invalid(registry: Reg, http: Http, body: bytes) -> None:
    async with http.put(f"{registry.url}/v2/strict/repo/manifests/v1", data=body, headers=MANIFEST_TYPE) as r:
        assert r.status == 400, await r.text()
        assert (await _error(r))["code"] == "MANIFEST_INVALID"


@pytest.mark.parametrize(
    "changes",
    [
        {"mediaType": "application/vnd.oci.image.manifest.v1+json\nX-Injected: 1"},
        {"mediaType": "application/x\u0000"},
        {"mediaType": "not-a-media-type"},
        {"artifactType": "application/x\u0000"},
        {"artifactType": "application/\ud800"},
    ],
    ids=["newline", "nul", "no-slash", "artifact-nul", "artifact-surrogate"],
)
async def test_manifest_media_types_must_be_type_slash_subtype(
    registry: Reg, http: Http, changes: dict[str, str]
) -> None:
    """The stored media type is served back as the Content-Type header: one with a control character
    used to be accepted (201) and then every GET and HEAD of the manifest dropped the connection."""
    doc = json.loads(await _pushed_manifest(http, registry))
    doc.update(changes)
    body = json.dumps(doc).encode()
    headers = {"Content-Type": "application/octet-stream"}  # the body's mediaType decides
    async with http.put(f"{registry.url}/v2/strict/repo/manifests/v1", data=body, headers=headers) as r:
        assert r.status == 400, await r.text()
        assert (await _error(r))["code"] == "MANIFEST_INVALID"
    for method in ("GET", "HEAD"):
        async with http.request(method, f"{registry.url}/v2/strict/repo/manifests/v1") as r:
            assert r.status == 404


@pytest.mark.parametrize("method", ["GET", "HEAD"])
@pytest.mark.parametrize("tag", ["v1%0A", "-bad", "a" * 129, "x%20y"])
async def test_a_malformed_tag_on_manifest_get_or_head_is_404_manifest_unknown(
    registry: Reg, http: Http, method: str, tag: str
) -> None:
    """The spec's endpoint table allows only 404 on end-3 (issue 12); PUT keeps 400 TAG_INVALID."""
    async with http.request(method, f"{registry.url}/v2/strict/repo/manifests/{tag}") as r:
        assert r.status == 404
        if method == "GET":
            assert (await _error(r))["code"] == "MANIFEST_UNKNOWN"
