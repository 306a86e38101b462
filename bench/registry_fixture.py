"""Shared bench plumbing: a local docker-registry holding one big blob as a model, timed curl runs."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import time
import urllib.request
from pathlib import Path

from tests.support.distribution import distribution_registry

__all__ = ["curl_get", "curl_put", "distribution_registry", "make_blob", "publish_model", "timed"]


def make_blob(path: Path, size: int) -> str:
    """Write ``size`` random bytes to ``path``; returns the sha256 hex."""
    h = hashlib.sha256()
    with open(path, "wb") as f:
        left = size
        while left:
            chunk = os.urandom(min(left, 8 << 20))
            h.update(chunk)
            f.write(chunk)
            left -= len(chunk)
    return h.hexdigest()


def timed(argv: list[str]) -> float:
    """Run a command; return its wall time in seconds."""
    start = time.perf_counter()
    subprocess.run(argv, check=True)
    return time.perf_counter() - start


def curl_put(host: str, repo: str, path: Path, hexd: str) -> float:
    """Monolithic upload with curl (POST, then one ``PUT -T``); returns the seconds taken."""
    start = time.perf_counter()
    out = subprocess.run(
        ["curl", "-s", "-D", "-", "-o", "/dev/null", "-X", "POST", f"http://{host}/v2/{repo}/blobs/uploads/"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    location = next(
        line.split(":", 1)[1].strip() for line in out.splitlines() if line.lower().startswith("location:")
    )
    sep = "&" if "?" in location else "?"
    subprocess.run(
        [
            "curl",
            "-s",
            "-f",
            "-o",
            "/dev/null",
            "-H",
            "Content-Type: application/octet-stream",
            "-T",
            str(path),
            f"{location}{sep}digest=sha256:{hexd}",
        ],
        check=True,
    )
    return time.perf_counter() - start


def curl_get(host: str, repo: str, hexd: str, out: Path) -> float:
    """``curl -o`` of the blob; returns the seconds taken."""
    return timed(["curl", "-s", "-f", "-o", str(out), f"http://{host}/v2/{repo}/blobs/sha256:{hexd}"])


def publish_model(host: str, repo: str, tag: str, hexd: str, size: int, workdir: Path) -> None:
    """Upload a tiny config and PUT a Docker v2 manifest naming the (already uploaded) blob."""
    config = b'{"model_format":"gguf"}'
    chex = hashlib.sha256(config).hexdigest()
    (workdir / "config.json").write_bytes(config)
    curl_put(host, repo, workdir / "config.json", chex)
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {
            "mediaType": "application/vnd.docker.container.image.v1+json",
            "digest": f"sha256:{chex}",
            "size": len(config),
        },
        "layers": [
            {"mediaType": "application/vnd.ollama.image.model", "digest": f"sha256:{hexd}", "size": size}
        ],
    }
    req = urllib.request.Request(
        f"http://{host}/v2/{repo}/manifests/{tag}", data=json.dumps(manifest).encode(), method="PUT"
    )
    req.add_header("Content-Type", manifest["mediaType"])
    urllib.request.urlopen(req).close()
