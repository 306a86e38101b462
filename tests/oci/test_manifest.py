"""Digests and manifests: parsing, exact bytes, unknown layers kept, deterministic building."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from registry.errors import InvalidDigest, InvalidManifest
from registry.oci import mediatypes as mt
from registry.oci.digest import Digest, sha256_of
from registry.oci.manifest import Descriptor, Manifest, build_manifest

HEX = "ab" * 32


def test_digest_forms() -> None:
    assert Digest.parse(f"sha256:{HEX}") == Digest.parse(f"sha256-{HEX.upper()}")
    assert str(Digest.parse(f"sha256-{HEX}")) == f"sha256:{HEX}"
    assert Digest(HEX).short == HEX[:12]


@pytest.mark.parametrize(
    "bad", ["", "sha256:", f"sha512:{HEX}", f"sha256:{HEX}0", f"sha256:{HEX[:-1]}g", "../x"]
)
def test_bad_digests(bad: str) -> None:
    with pytest.raises(InvalidDigest):
        Digest.parse(bad)


@given(st.text(max_size=100))
def test_digest_parser_never_crashes(text: str) -> None:
    try:
        Digest.parse(text)
    except InvalidDigest:
        pass


def _doc(**overrides: object) -> dict[str, object]:
    doc: dict[str, object] = {
        "schemaVersion": 2,
        "mediaType": mt.DOCKER_MANIFEST,
        "config": {"mediaType": mt.DOCKER_CONFIG, "digest": f"sha256:{HEX}", "size": 10},
        "layers": [
            {"mediaType": mt.OLLAMA_MODEL, "digest": f"sha256:{'cd' * 32}", "size": 100, "from": "x"},
            {"mediaType": "application/vnd.example.future", "digest": f"sha256:{'ef' * 32}", "size": 5},
        ],
    }
    doc.update(overrides)
    return doc


def test_manifest_keeps_exact_bytes_and_unknown_layers() -> None:
    raw = json.dumps(_doc(), indent=3).encode()
    manifest = Manifest.parse(raw)
    assert manifest.raw == raw
    assert manifest.digest == sha256_of(raw)
    assert manifest.total_size == 115
    assert [layer.media_type for layer in manifest.layers][1] == "application/vnd.example.future"
    assert manifest.layers[0].extra == {"from": "x"}


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"not json", "not valid JSON"),
        (b"[]", "not a JSON object"),
        (json.dumps(_doc(schemaVersion=1)).encode(), "schemaVersion"),
        (json.dumps(_doc(config={"mediaType": "x", "size": 1})).encode(), "config.digest"),
        (
            json.dumps(_doc(layers=[{"mediaType": "x", "digest": "sha256:zz", "size": 1}])).encode(),
            "layers[0]",
        ),
        (
            json.dumps(_doc(layers=[{"mediaType": "x", "digest": f"sha256:{HEX}", "size": -1}])).encode(),
            "size",
        ),
        (json.dumps(_doc(mediaType="application/x-unknown")).encode(), "unsupported"),
        (b" " * (4 * 1024 * 1024 + 1), "limit"),
    ],
)
def test_bad_manifests(raw: bytes, message: str) -> None:
    with pytest.raises(InvalidManifest) as info:
        Manifest.parse(raw)
    assert message in str(info.value)


def test_build_is_deterministic_and_ollama_shaped() -> None:
    config = Descriptor(mt.DOCKER_CONFIG, Digest(HEX), 10)
    layers = [Descriptor(mt.OLLAMA_MODEL, Digest("cd" * 32), 100)]
    one, two = build_manifest(config, layers), build_manifest(config, layers)
    assert one.raw == two.raw and one.raw.endswith(b"}\n")
    assert Manifest.parse(one.raw).layers == one.layers


@given(st.binary(max_size=300))
def test_manifest_parser_never_crashes(raw: bytes) -> None:
    try:
        Manifest.parse(raw)
    except InvalidManifest:
        pass


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (1e-9, "1ns"),
        (1.5e-6, "1.5µs"),
        (0.012345678, "12.345678ms"),
        (0.25, "250ms"),
        (1.5, "1.5s"),
        (300, "5m0s"),
        (3723, "1h2m3s"),
        (-2, "-2s"),
    ],
)
def test_go_duration_strings(seconds: float, text: str) -> None:
    from registry.durations import format_go_duration

    assert format_go_duration(seconds) == text
