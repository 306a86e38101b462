"""Issue 10 item 5: SIGKILL of ``ollama-py registry gc`` mid-sweep leaves catalog and files consistent.

A real ``registry gc --grace 0s`` subprocess is killed at a random point of its sweep (once some, but
not all, of the garbage files are gone), several times over. After each kill, against a running
server: every blob a repository still shows is served with its bytes, a manifest naming any of the
garbage blobs is accepted only if that blob is then served, and pushes still work. A last, complete
run leaves exactly the referenced blobs on disk. After each kill the catalog itself is
checked too: no live (not tombstoned) blob row without its file.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import pytest

from registry.ociserver.settings import ServerSettings
from tests.support.checkout_env import checkout_pythonpath
from tests.support.registry_server import image_manifest, push_blob, push_image, sha, start_registry

pytestmark = pytest.mark.slow

_REPO_ROOT = Path(__file__).resolve().parents[2]
MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def _blob_files(root: Path) -> int:
    blobs = root / "blobs"
    return sum(1 for _ in blobs.glob("sha*/*/*")) if blobs.exists() else 0


def _gc_command(root: Path) -> list[str]:
    return [sys.executable, "-m", "registry.cli.main", "registry", "gc", "--root", str(root), "--grace", "0s"]


def _run_gc_and_kill(root: Path, rng: random.Random) -> bool:
    """Start a GC process; SIGKILL it once a random share of the garbage files is gone.

    True when the kill landed mid-sweep (some files gone, the process still running).
    """
    before = _blob_files(root)
    target = before - rng.randrange(1, max(2, before // 2))  # kill after 1 .. half of them went
    env = dict(os.environ, PYTHONPATH=checkout_pythonpath())
    proc = subprocess.Popen(_gc_command(root), cwd=_REPO_ROOT, env=env, stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while proc.poll() is None and time.monotonic() < deadline:
            if _blob_files(root) <= target:
                proc.send_signal(signal.SIGKILL)
                proc.wait(10)
                return True
            time.sleep(0.001)
        return False
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)


def _live_rows_without_files(root: Path) -> list[str]:
    """Blob rows the catalog counts as present (not tombstoned) whose file is gone (no push is in
    flight here, so every such row must have its file)."""
    with contextlib.closing(sqlite3.connect(root / "catalog.db")) as conn:
        live = [str(d) for (d,) in conn.execute("SELECT digest FROM reg_blobs WHERE NOT deleting")]
    return [d for d in live if not (root / "blobs" / "sha256" / d[7:9] / d[7:]).exists()]


def _tombstoned_rows(root: Path) -> int:
    with contextlib.closing(sqlite3.connect(root / "catalog.db")) as conn:
        return int(conn.execute("SELECT count(*) FROM reg_blobs WHERE deleting").fetchone()[0])


async def _push_garbage(http: aiohttp.ClientSession, url: str, blobs: list[bytes]) -> None:
    limit = asyncio.Semaphore(8)

    async def one(i: int, blob: bytes) -> None:
        async with limit:
            await push_blob(http, url, f"junk/j{i % 4}", blob)

    await asyncio.gather(*(one(i, b) for i, b in enumerate(blobs)))


async def _check_consistent(http: aiohttp.ClientSession, url: str, garbage: list[bytes], tag: str) -> None:
    for i, blob in enumerate(garbage):
        repo = f"junk/j{i % 4}"
        async with http.get(f"{url}/v2/{repo}/blobs/{sha(blob)}") as r:
            data = await r.read()
            assert r.status in (200, 404), r.status
            assert r.status == 404 or data == blob, f"{sha(blob)} shown in {repo} but not served"
        # a manifest naming the blob is accepted only if the blob is then served
        body = image_manifest(blob, [blob])
        async with http.put(
            f"{url}/v2/{repo}/manifests/{tag}-{i}", data=body, headers={"Content-Type": MANIFEST}
        ) as r:
            status = r.status
            assert status in (201, 400), (status, await r.text())
        if status == 201:
            async with http.get(f"{url}/v2/{repo}/blobs/{sha(blob)}") as r:
                assert r.status == 200 and await r.read() == blob, (
                    f"acknowledged {repo}:{tag}-{i} lost {sha(blob)}"
                )
            async with http.delete(f"{url}/v2/{repo}/manifests/{sha(body)}") as r:
                assert r.status == 202  # back to garbage for the next round


async def test_sigkill_of_registry_gc_mid_sweep_leaves_catalog_and_files_consistent(tmp_path: Path) -> None:
    root = tmp_path / "root"
    rng = random.Random()
    seed = rng.randrange(1 << 30)
    rng.seed(seed)
    registry = await start_registry(ServerSettings(root=root, port=0, tag_cache_seconds=0.0))
    try:
        async with aiohttp.ClientSession() as http:
            kept = os.urandom(3000)
            _, kept_manifest = await push_image(http, registry.url, "keep/me", "v1", b"{}", [kept])
            kills = mid_sweep = 0
            for round_no in range(4):
                garbage = [os.urandom(rng.randrange(100, 3000)) for _ in range(60)]
                await _push_garbage(http, registry.url, garbage)
                kills += await asyncio.to_thread(_run_gc_and_kill, root, rng)
                await _check_consistent(http, registry.url, garbage, f"r{round_no}")
                assert _live_rows_without_files(root) == [], f"seed {seed}"
                mid_sweep += _tombstoned_rows(root) > 0  # the kill left a sweep to finish
                # pushes still work, including of a blob the killed sweep was deleting
                layer = rng.choice(garbage)
                _, body = await push_image(http, registry.url, "after/kill", f"r{round_no}", b"{}", [layer])
                async with http.get(f"{registry.url}/v2/after/kill/blobs/{sha(layer)}") as r:
                    assert await r.read() == layer
                async with http.delete(f"{registry.url}/v2/after/kill/manifests/{sha(body)}") as r:
                    assert r.status == 202
            assert kills >= 2 and mid_sweep >= 2, f"seed {seed}: {kills} kills, {mid_sweep} mid-sweep"
        done = await asyncio.to_thread(
            subprocess.run,
            _gc_command(root),
            cwd=_REPO_ROOT,
            env=dict(os.environ, PYTHONPATH=checkout_pythonpath()),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        assert _blob_files(root) == 2, f"seed {seed}: {_blob_files(root)} files left"  # b"{}" and kept
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{registry.url}/v2/keep/me/manifests/v1") as r:
                assert await r.read() == kept_manifest
            async with http.get(f"{registry.url}/v2/keep/me/blobs/{sha(kept)}") as r:
                assert await r.read() == kept
    finally:
        await registry.stop()
