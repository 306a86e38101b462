"""Real clients against a real server process: skopeo (copy in and out, list-tags, delete) and oras-py."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.registry_process import RegistryProcess
from tests.support.registry_server import sha

pytestmark = pytest.mark.slow


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RegistryProcess]:
    proc = RegistryProcess("--root", str(tmp_path / "root"))
    yield proc
    proc.stop()


def _oci_layout(path: Path, tag: str) -> bytes:
    """A minimal OCI image layout with one layer; returns the layer bytes."""
    blobs = path / "blobs" / "sha256"
    blobs.mkdir(parents=True)
    layer = gzip.compress(os.urandom(50_000))
    config = json.dumps(
        {"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": [sha(layer)]}}
    ).encode()
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": sha(config),
                "size": len(config),
            },
            "layers": [
                {
                    "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": sha(layer),
                    "size": len(layer),
                }
            ],
        }
    ).encode()
    for blob in (layer, config, manifest):
        (blobs / sha(blob)[7:]).write_bytes(blob)
    (path / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    (path / "index.json").write_text(
        json.dumps(
            {
                "schemaVersion": 2,
                "manifests": [
                    {
                        "mediaType": "application/vnd.oci.image.manifest.v1+json",
                        "digest": sha(manifest),
                        "size": len(manifest),
                        "annotations": {"org.opencontainers.image.ref.name": tag},
                    }
                ],
            }
        )
    )
    return layer


def _skopeo(*args: str) -> str:
    result = subprocess.run(["skopeo", *args], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.skipif(shutil.which("skopeo") is None, reason="skopeo is not installed")
def test_skopeo_copy_in_and_out(server: RegistryProcess, tmp_path: Path) -> None:
    host = server.url.removeprefix("http://")
    layer = _oci_layout(tmp_path / "layout", "v1")
    _skopeo(
        "copy", "--dest-tls-verify=false", f"oci:{tmp_path / 'layout'}:v1", f"docker://{host}/test/hello:v1"
    )
    _skopeo(
        "copy",
        "--src-tls-verify=false",
        "--dest-tls-verify=false",
        f"docker://{host}/test/hello:v1",
        f"docker://{host}/test/hello2:v2",
    )  # cross-repo mount
    assert json.loads(_skopeo("list-tags", "--tls-verify=false", f"docker://{host}/test/hello2"))["Tags"] == [
        "v2"
    ]
    _skopeo(
        "copy", "--src-tls-verify=false", f"docker://{host}/test/hello2:v2", f"oci:{tmp_path / 'back'}:v1"
    )
    assert (tmp_path / "back" / "blobs" / "sha256" / sha(layer)[7:]).read_bytes() == layer
    _skopeo("delete", "--tls-verify=false", f"docker://{host}/test/hello2:v2")
    assert (
        json.loads(_skopeo("list-tags", "--tls-verify=false", f"docker://{host}/test/hello2"))["Tags"] == []
    )


def test_oras_push_and_pull(server: RegistryProcess, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    oras_provider = pytest.importorskip("oras.provider")
    host = server.url.removeprefix("http://")
    monkeypatch.chdir(tmp_path)
    weights = os.urandom(100_000)
    Path("model.gguf").write_bytes(weights)
    Path("config.json").write_text("{}")
    reg = oras_provider.Registry(hostname=host, insecure=True)
    response = reg.push(
        target=f"{host}/models/tiny:v1",
        files=["model.gguf:application/vnd.ollama.image.model"],
        manifest_config="config.json:application/vnd.example.model.config.v1+json",
    )
    assert response.status_code == 201
    chunked = Path("chunked.bin")
    chunked.write_bytes(os.urandom(70_000))
    reg.push(
        target=f"{host}/models/tiny:v2",
        files=["chunked.bin:application/octet-stream"],
        do_chunked=True,
        chunk_size=16_384,
    )
    assert sorted(reg.get_tags(f"{host}/models/tiny")) == ["v1", "v2"]
    out = tmp_path / "out"
    reg.pull(target=f"{host}/models/tiny:v1", outdir=str(out))
    assert (out / "model.gguf").read_bytes() == weights
