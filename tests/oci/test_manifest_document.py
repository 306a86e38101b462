"""The one manifest parser: the general parse (what the registry stores) and the library's view of it."""

from __future__ import annotations

import hashlib
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from registry.errors import InvalidDigest, InvalidManifest
from registry.oci import mediatypes as mt
from registry.oci.digest import Digest
from registry.oci.manifest import Manifest, ManifestDocument

A, B, C = "aa" * 32, "bb" * 32, "cc" * 32


def _desc(hex_: str, media_type: str = mt.OLLAMA_MODEL, size: int = 1, **extra: object) -> dict[str, object]:
    return {"mediaType": media_type, "digest": f"sha256:{hex_}", "size": size, **extra}


def _raw(**doc: object) -> bytes:
    return json.dumps({"schemaVersion": 2, **doc}).encode()


def test_an_artifact_manifest_with_an_unknown_config_type_is_a_document() -> None:
    raw = _raw(
        mediaType=mt.OCI_MANIFEST,
        config=_desc(A, "application/vnd.example.config+json"),
        layers=[_desc(B), _desc(C, urls=["https://cdn.example/x"]), _desc(B, size=7)],
    )
    doc = ManifestDocument.parse(raw)
    assert doc.digest == Digest(hashlib.sha256(raw).hexdigest())
    assert doc.raw == raw and not doc.is_index
    assert doc.blob_refs == (Digest(A), Digest(B))  # the non-distributable layer is not a blob ref
    assert doc.blob_sizes == {Digest(A): 1, Digest(B): 7}  # a later descriptor of one blob wins
    assert doc.referrer_artifact_type == "application/vnd.example.config+json"
    assert doc.manifest_refs == ()


def test_an_index_names_manifests_of_any_type_and_no_blobs() -> None:
    entry = _desc(A, "application/vnd.buildkit.cacheconfig.v0")
    doc = ManifestDocument.parse(_raw(manifests=[entry, entry]))  # no mediaType: guessed from shape
    assert doc.is_index and doc.media_type == mt.OCI_INDEX
    assert doc.manifest_refs == (Digest(A),) and doc.blob_refs == () and doc.blob_sizes == {}


def test_the_digest_algorithm_is_the_callers_and_sha512_descriptors_are_oci() -> None:
    raw = _raw(config={"mediaType": mt.OCI_CONFIG, "digest": "sha512:" + "dd" * 64, "size": 2}, layers=[])
    doc = ManifestDocument.parse(raw, algorithm="sha512")
    assert doc.digest == Digest(hashlib.sha512(raw).hexdigest(), "sha512")
    assert doc.blob_refs == (Digest("dd" * 64, "sha512"),)
    with pytest.raises(InvalidDigest):
        ManifestDocument.parse(raw, algorithm="md5")


@pytest.mark.parametrize(
    ("content_type", "media_type"),
    [
        (None, mt.OCI_MANIFEST),
        ("application/octet-stream", mt.OCI_MANIFEST),
        (mt.DOCKER_MANIFEST, mt.DOCKER_MANIFEST),
    ],
)
def test_the_media_type_is_the_body_s_else_the_content_type_else_the_shape(
    content_type: str | None, media_type: str
) -> None:
    doc = ManifestDocument.parse(_raw(config=_desc(A, mt.OCI_CONFIG)), content_type)
    assert doc.media_type == media_type


@pytest.mark.parametrize(
    ("doc", "content_type", "message"),
    [
        ({"mediaType": mt.OCI_MANIFEST}, mt.DOCKER_MANIFEST, "does not match Content-Type"),
        ({"mediaType": "no-slash"}, None, "is not a type/subtype"),
        ({"artifactType": "no-slash"}, None, "artifactType"),
        ({"annotations": ["a"]}, None, "annotations must be an object"),
        ({"layers": {}}, None, "layers must be a list"),
        ({"manifests": [{"mediaType": "x", "size": 1}]}, None, "manifests[0].digest"),
        ({"subject": "x"}, None, "subject is not an object"),
    ],
)
def test_refusals_say_what_is_wrong(doc: dict[str, object], content_type: str | None, message: str) -> None:
    with pytest.raises(InvalidManifest, match=r"^invalid manifest: ") as info:
        ManifestDocument.parse(_raw(**doc), content_type)
    assert message in str(info.value)


def test_the_library_view_ignores_a_content_type_that_is_not_a_manifest_type() -> None:
    raw = _raw(mediaType=mt.DOCKER_MANIFEST, config=_desc(A, mt.DOCKER_CONFIG), layers=[_desc(B)])
    manifest = Manifest.parse(raw, "text/plain")  # Ollama's registry may answer text/plain
    assert manifest.media_type == mt.DOCKER_MANIFEST and manifest.layers[0].digest == Digest(B)
    with pytest.raises(InvalidManifest, match="does not match Content-Type"):
        ManifestDocument.parse(raw, "text/plain")


def test_the_library_view_speaks_sha256_in_both_spellings_the_registry_only_oci() -> None:
    dash = _raw(mediaType=mt.DOCKER_MANIFEST, config=_desc(A, mt.DOCKER_CONFIG) | {"digest": f"sha256-{A}"})
    assert Manifest.parse(dash).config is not None
    with pytest.raises(InvalidManifest, match=r"config\.digest"):
        ManifestDocument.parse(dash)
    sha512 = _raw(config={"mediaType": mt.DOCKER_CONFIG, "digest": "sha512:" + "dd" * 64, "size": 1})
    ManifestDocument.parse(sha512)
    with pytest.raises(InvalidManifest, match=r"config\.digest"):
        Manifest.parse(sha512)


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"mediaType": "application/vnd.example+json", "config": _desc(A)}, "unsupported"),
        ({"mediaType": mt.OCI_MANIFEST, "layers": []}, "config is not an object"),
    ],
)
def test_the_library_view_wants_a_model_manifest(doc: dict[str, object], message: str) -> None:
    raw = _raw(**doc)
    ManifestDocument.parse(raw)  # the registry stores it
    with pytest.raises(InvalidManifest, match=message):
        Manifest.parse(raw)


_json = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 3) | st.sampled_from(["", "x", "a/b", mt.OCI_INDEX]),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(["mediaType", "digest", "size", "urls"]), inner, max_size=3)
    ),
    max_leaves=8,
)
_fields = st.fixed_dictionaries(
    {},
    optional={
        "mediaType": st.sampled_from([mt.DOCKER_MANIFEST, mt.OCI_MANIFEST, mt.OCI_INDEX, "a/b", "", 3]),
        "config": st.one_of(st.none(), st.just(_desc(A, mt.DOCKER_CONFIG)), _json),
        "layers": st.one_of(st.none(), st.lists(st.just(_desc(B)), max_size=2), _json),
        "manifests": st.one_of(st.lists(st.just(_desc(C, mt.OCI_MANIFEST)), max_size=2), _json),
        "subject": st.one_of(st.none(), st.just(_desc(C, mt.OCI_MANIFEST)), _json),
        "artifactType": st.one_of(st.just("a/b"), _json),
        "annotations": st.one_of(st.just({"k": "v"}), _json),
    },
)


@given(_fields, st.sampled_from([None, mt.DOCKER_MANIFEST, mt.OCI_INDEX, "text/plain"]))
def test_whatever_the_library_accepts_is_a_document_with_the_same_blobs(
    fields: dict[str, object], content_type: str | None
) -> None:
    raw = _raw(**fields)
    try:
        manifest = Manifest.parse(raw, content_type)
    except InvalidManifest as err:
        assert str(err).startswith("invalid manifest: ")
        return
    known = content_type if content_type in mt.MANIFEST_TYPES | mt.INDEX_TYPES else None
    doc = ManifestDocument.parse(raw, known)
    assert manifest.media_type == doc.media_type
    if manifest.is_index:
        assert manifest.layers == doc.manifests
    else:
        assert (manifest.config, manifest.layers) == (doc.config, doc.layers)


@given(st.binary(max_size=300), st.sampled_from([None, mt.OCI_MANIFEST, "application/octet-stream"]))
def test_the_general_parse_never_crashes(raw: bytes, content_type: str | None) -> None:
    try:
        ManifestDocument.parse(raw, content_type)
    except InvalidManifest as err:
        assert str(err).startswith("invalid manifest: ")
