"""Upload limits, periodic upload purging, /metrics, and the ``registry gc`` / ``hash-password`` commands."""

from __future__ import annotations

import asyncio
import io
import json
import os
import subprocess
import sys
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import aiohttp
import bcrypt

from registry.cli.main import main
from tests.support.checkout_env import ROOT
from tests.support.registry_server import (
    RunningRegistry,
    image_manifest,
    push_blob,
    push_image,
    start_registry,
)

Http = aiohttp.ClientSession


async def test_upload_over_limit_is_413_and_stores_nothing(make_settings: Any, http: Http) -> None:
    reg = await start_registry(make_settings(max_upload_bytes=1000))
    try:
        async with http.post(
            f"{reg.url}/v2/l/r/blobs/uploads/", params={"digest": "sha256:" + "0" * 64}, data=os.urandom(5000)
        ) as r:
            assert r.status == 413
            assert (await r.json())["errors"][0]["code"] == "SIZE_INVALID"
        await push_blob(http, reg.url, "l/r", b"small enough")
    finally:
        await reg.stop()


async def test_stale_upload_sessions_are_purged_without_gc(make_settings: Any, http: Http) -> None:
    reg = await start_registry(make_settings(upload_max_age=0.5))
    try:
        async with http.post(f"{reg.url}/v2/l/r/blobs/uploads/") as r:
            location = r.headers["Location"]
        for _ in range(100):
            await asyncio.sleep(0.1)
            async with http.get(location) as r:
                if r.status == 404:
                    break
        assert r.status == 404
    finally:
        await reg.stop()


async def test_metrics_count_requests_and_bytes(registry: RunningRegistry, http: Http) -> None:
    await push_image(http, registry.url, "m/r", "v1", b"{}", [b"layer"])
    async with http.get(f"{registry.url}/v2/m/r/manifests/v1") as r:
        await r.read()
    async with http.get(f"{registry.url}/metrics") as r:
        text = await r.text()
    assert (
        'registry_http_requests_total{method="GET",route="/v2/{name}/manifests/{reference}",status="200"} 1.0'
        in text
    )
    assert "registry_upload_sessions_started_total 2.0" in text
    assert "registry_bytes_received_total" in text and "registry_bytes_sent_total" in text


async def test_metrics_gauge_stored_bytes_and_repositories(registry: RunningRegistry, http: Http) -> None:
    """Issue 12: gauges read from the catalog when scraped."""
    await push_image(http, registry.url, "m/r", "v1", b"{}", [b"layer"])
    await push_image(http, registry.url, "m/s", "v1", b"{}", [b"layer", b"other layer"])
    async with http.get(f"{registry.url}/metrics") as r:
        text = await r.text()
    assert "registry_repositories 2.0" in text, text
    manifest_bytes = [
        len(image_manifest(b"{}", [b"layer"])),
        len(image_manifest(b"{}", [b"layer", b"other layer"])),
    ]
    stored = len(b"{}") + len(b"layer") + len(b"other layer") + sum(manifest_bytes)
    assert (
        f"registry_stored_bytes {float(stored)}" in text
        or f"registry_stored_bytes {float(stored - sum(manifest_bytes))}" in text
    ), text


async def test_registry_gc_command(tmp_path: Path, make_settings: Any, http: Http) -> None:
    root = tmp_path / "root"
    reg = await start_registry(make_settings(root=root))
    try:
        await push_image(http, reg.url, "g/r", "v1", b"{}", [b"kept"])
        await push_blob(http, reg.url, "g/r", b"orphan")
    finally:
        await reg.stop()

    def run(*args: str) -> dict[str, Any]:
        out = io.StringIO()
        with redirect_stdout(out):
            assert main(["registry", "gc", "--root", str(root), "--json", *args]) == 0
        return dict(json.loads(out.getvalue()))

    assert (await asyncio.to_thread(run, "--dry-run", "--grace", "0s"))["blobs_removed"] == 1
    assert (await asyncio.to_thread(run, "--grace", "1h"))["blobs_removed"] == 0
    assert (await asyncio.to_thread(run, "--grace", "0s"))["bytes_freed"] == len(b"orphan")
    assert (await asyncio.to_thread(run, "--grace", "0s"))["blobs_removed"] == 0


def test_hash_password_reads_the_password_from_stdin(tmp_path: Path) -> None:
    """Issue 12: a password never has to be on the command line (where ps and shell history see it)."""
    out = subprocess.run(
        [sys.executable, "-m", "registry.cli.main", "registry", "hash-password", "--password-stdin"],
        input="s3cret pass\n",
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert out.returncode == 0, out.stderr
    assert bcrypt.checkpw(b"s3cret pass", out.stdout.strip().encode())


def test_hash_password_and_bad_listen(capsys: Any) -> None:
    assert main(["registry", "hash-password", "pw"]) == 0
    assert bcrypt.checkpw(b"pw", capsys.readouterr().out.strip().encode())
    assert main(["registry", "serve", "--listen", "nonsense", "--root", "/nonexistent/x"]) == 1
    assert "invalid --listen" in capsys.readouterr().err
