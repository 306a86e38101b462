"""Interop with real clients and servers: skopeo and distribution's docker-registry 2.8.2.

skopeo (containers/image) reads only OCI-typed manifests from an OCI layout and refuses Docker v2
manifests with non-Docker layer types, so these tests use an OCI-typed model (Ollama's own Docker
v2 manifests are covered against the same registry by ollama-py alone).
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest
import zstandard

from registry.oci import mediatypes as mt
from registry.oci.manifest import Descriptor, Manifest, build_manifest
from registry.oci.name import ModelName
from registry.remote.pull import pull_model
from registry.remote.push import push_model
from registry.store.archive.exporter import export_to_path
from registry.store.library import Library
from tests.remote.helpers import FAST, weights
from tests.support import distribution
from tests.support.models import make_model

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not (distribution.available() and shutil.which("skopeo")), reason="needs skopeo and docker-registry"
    ),
]


def _oci_model(library: Library, name: str, size: int = 3 << 20) -> Manifest:
    w, ws = library.add_bytes(weights(size, seed=11))
    c, cs = library.add_bytes(json.dumps({"model_format": "gguf", "model_family": "llama"}).encode())
    manifest = build_manifest(
        Descriptor(mt.OCI_CONFIG, c, cs), [Descriptor(mt.OLLAMA_MODEL, w, ws)], media_type=mt.OCI_MANIFEST
    )
    library.put_model(ModelName.parse(name), manifest)
    return manifest


def _skopeo(*args: str) -> None:
    result = subprocess.run(["skopeo", *args], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]


async def _drain(events: object) -> None:
    async for _ in events:  # type: ignore[attr-defined]
        pass


async def test_skopeo_in_ollama_py_out(library: Library, tmp_path: Path) -> None:
    manifest = _oci_model(library, "ocitiny")
    archive = tmp_path / "m.tar.zst"
    export_to_path(library, [ModelName.parse("ocitiny")], archive)
    layout = tmp_path / "layout"
    layout.mkdir()
    with (
        open(archive, "rb") as f,
        tarfile.open(fileobj=zstandard.ZstdDecompressor().stream_reader(f), mode="r|") as tar,
    ):
        tar.extractall(layout, filter="data")
    with distribution.distribution_registry(tmp_path) as host:
        ref = "registry.ollama.ai/library/ocitiny:latest"
        await asyncio.to_thread(
            _skopeo,
            "copy",
            "--preserve-digests",
            "--dest-tls-verify=false",
            f"oci:{layout}:{ref}",
            f"docker://{host}/test/tiny:v1",
        )
        target = Library.open(tmp_path / "target")
        try:
            name = ModelName.parse(f"{host}/test/tiny:v1")
            await _drain(pull_model(target, name, insecure=True, options=FAST))
            assert target.get_model(name).manifest.digest == manifest.digest
            assert target.verify().ok
        finally:
            target.close()


async def test_ollama_py_in_skopeo_out(library: Library, tmp_path: Path) -> None:
    with distribution.distribution_registry(tmp_path) as host:
        name = f"{host}/me/oci:v2"
        manifest = _oci_model(library, name, size=40 << 20)  # > monolithic limit: chunked PATCHes
        await _drain(push_model(library, ModelName.parse(name), insecure=True))
        out = tmp_path / "out"
        await asyncio.to_thread(_skopeo, "copy", "--src-tls-verify=false", f"docker://{name}", f"dir:{out}")
    assert (out / "manifest.json").read_bytes() == manifest.raw
    for desc in manifest.blobs():
        assert (out / desc.digest.hex).read_bytes() == library.blob_path(desc.digest).read_bytes()


async def test_ollama_manifest_roundtrip_through_distribution(library: Library, tmp_path: Path) -> None:
    make_model(library, "plain", weights=weights(1 << 20), template="{{ .Prompt }}")
    with distribution.distribution_registry(tmp_path) as host:
        remote = ModelName.parse(f"{host}/me/plain:v1")
        library.copy(ModelName.parse("plain"), remote)
        await _drain(push_model(library, remote, insecure=True))
        target = Library.open(tmp_path / "target")
        try:
            await _drain(pull_model(target, remote, insecure=True, options=FAST))
            assert target.get_model(remote).manifest.digest == library.get_model(remote).manifest.digest
        finally:
            target.close()
