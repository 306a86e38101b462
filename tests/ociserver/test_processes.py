"""Real server processes: a crash mid-upload resumes after restart; two processes share PostgreSQL + S3."""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from tests.support.postgres import fresh_database
from tests.support.registry_process import RegistryProcess
from tests.support.registry_server import image_manifest, push_image, sha, sha512
from tests.support.s3_server import moto_s3

pytestmark = pytest.mark.slow


async def test_kill_mid_upload_then_resume_after_restart(tmp_path: Path) -> None:
    root = tmp_path / "root"
    data = os.urandom(6 << 20)
    first = RegistryProcess("--root", str(root))
    try:
        async with aiohttp.ClientSession() as http:
            async with http.post(f"{first.url}/v2/m/r/blobs/uploads/") as r:
                location = r.headers["Location"]
            async with http.patch(
                location, data=data[: 2 << 20], headers={"Content-Range": f"0-{(2 << 20) - 1}"}
            ) as r:
                assert r.status == 202

            async def slow_body() -> object:
                yield data[2 << 20 : 3 << 20]
                await asyncio.sleep(30)

            task = asyncio.create_task(
                http.patch(
                    location, data=slow_body(), headers={"Content-Range": f"{2 << 20}-{(6 << 20) - 1}"}
                )
            )
            await asyncio.sleep(0.5)
            first.kill()
            with pytest.raises(aiohttp.ClientError):
                await task
    finally:
        first.stop()
    second = RegistryProcess("--root", str(root))
    try:
        port_path = location.split("/v2/", 1)[1]
        location = f"{second.url}/v2/{port_path}"
        async with aiohttp.ClientSession() as http:
            async with http.get(location) as r:
                assert r.status == 204
                assert r.headers["Range"] == f"0-{(2 << 20) - 1}"
            async with http.patch(
                location, data=data[2 << 20 :], headers={"Content-Range": f"{2 << 20}-{(6 << 20) - 1}"}
            ) as r:
                assert r.status == 202
            async with http.put(location, params={"digest": sha(data)}) as r:
                assert r.status == 201, await r.text()
            async with http.get(f"{second.url}/v2/m/r/blobs/{sha(data)}") as r:
                assert hashlib.sha256(await r.read()).hexdigest() == sha(data)[7:]
    finally:
        second.stop()


@pytest.fixture
def s3_endpoint() -> Iterator[str]:
    with moto_s3() as url:
        yield url


def _config(tmp_path: Path, name: str, endpoint: str, db_url: str, uploads: Path | None = None) -> Path:
    path = tmp_path / f"{name}.toml"
    shared = f'uploads_dir = "{uploads}"' if uploads is not None else ""
    path.write_text(
        f"""
[server]
tag_cache = "0"
[storage]
database_url = "{db_url}"
{shared}
backend = "s3"
[storage.s3]
bucket = "shared"
endpoint_url = "{endpoint}"
access_key = "test"
secret_key = "test"
create_bucket = true
"""
    )
    return path


async def test_two_processes_share_postgres_and_bucket(
    tmp_path: Path, s3_endpoint: str, postgres_url: str
) -> None:
    db_url = fresh_database(postgres_url)
    a = RegistryProcess(
        "--root", str(tmp_path / "a"), "--config", str(_config(tmp_path, "a", s3_endpoint, db_url))
    )
    b = RegistryProcess(
        "--root", str(tmp_path / "b"), "--config", str(_config(tmp_path, "b", s3_endpoint, db_url))
    )
    try:
        layer = os.urandom(500_000)
        async with aiohttp.ClientSession() as http:
            _digest, body = await push_image(http, a.url, "team/model", "v1", b"{}", [layer])
            async with http.get(f"{b.url}/v2/team/model/manifests/v1") as r:
                assert r.status == 200 and await r.read() == body
            async with http.get(f"{b.url}/v2/team/model/blobs/{sha(layer)}") as r:
                assert await r.read() == layer
            async with http.get(
                f"{b.url}/v2/team/model/blobs/{sha(layer)}", headers={"Range": "bytes=5-9"}
            ) as r:
                assert r.status == 206 and await r.read() == layer[5:10]
            await _sha512_image_across(http, a.url, b.url)
            # a chunked upload started on one process and finished on the other
            async with http.post(f"{a.url}/v2/team/model/blobs/uploads/") as r:
                path = r.headers["Location"].split("/v2/", 1)[1]
            async with http.delete(f"{b.url}/v2/team/model/manifests/v1") as r:
                assert r.status == 202
            async with http.get(f"{a.url}/v2/team/model/manifests/v1") as r:
                assert r.status == 404
            async with http.get(f"{a.url}/v2/team/model/blobs/uploads/{path.rsplit('/', 1)[1]}") as r:
                assert r.status == 204
    finally:
        a.stop()
        b.stop()


async def _sha512_image_across(http: aiohttp.ClientSession, a: str, b: str) -> None:
    """A sha512 blob and a manifest put by its sha512 digest on ``a`` are served by ``b`` (the
    catalog's digest columns hold 135 characters on PostgreSQL)."""
    layer = os.urandom(1000)
    for blob in (b"{}", layer):
        async with http.post(
            f"{a}/v2/team/model/blobs/uploads/", params={"digest": sha512(blob)}, data=blob
        ) as r:
            assert r.status == 201, await r.text()
    layer_digest = sha512(layer)
    media = "application/vnd.oci.image.manifest.v1+json"
    manifest = image_manifest(b"{}", [layer], digest_of=sha512)
    digest = sha512(manifest)
    async with http.put(
        f"{a}/v2/team/model/manifests/{digest}",
        params={"tag": "v512"},
        data=manifest,
        headers={"Content-Type": media},
    ) as r:
        assert r.status == 201, await r.text()
    async with http.get(f"{b}/v2/team/model/manifests/v512") as r:
        assert await r.read() == manifest and r.headers["Docker-Content-Digest"] == digest
    async with http.get(f"{b}/v2/team/model/blobs/{layer_digest}") as r:
        assert await r.read() == layer


async def _chunk(
    http: aiohttp.ClientSession, base: str, path: str, data: bytes, start: int
) -> aiohttp.ClientResponse:
    headers = {"Content-Range": f"{start}-{start + len(data) - 1}"}
    r = await http.patch(f"{base}/v2/{path}", data=data, headers=headers)
    await r.read()
    return r


@pytest.mark.parametrize("shared_uploads", [True, False], ids=["shared-uploads-dir", "separate-spools"])
async def test_chunked_upload_moving_between_processes(
    tmp_path: Path, s3_endpoint: str, postgres_url: str, shared_uploads: bool
) -> None:
    """Behind a load balancer each chunk may reach another process. With a shared ``uploads_dir`` the
    upload completes; without one, the process lacking the data says so (404, never a 500 or a
    wrong blob)."""
    db_url = fresh_database(postgres_url)
    uploads = tmp_path / "shared-uploads" if shared_uploads else None
    a, b = (
        RegistryProcess(
            "--root", str(tmp_path / n), "--config", str(_config(tmp_path, n, s3_endpoint, db_url, uploads))
        )
        for n in ("a", "b")
    )
    try:
        data = os.urandom(30_000)
        async with aiohttp.ClientSession() as http:
            async with http.post(f"{a.url}/v2/team/lb/blobs/uploads/") as r:
                path = r.headers["Location"].split("/v2/", 1)[1]
            r = await _chunk(http, a.url, path, data[:10_000], 0)
            assert r.status == 202
            r = await _chunk(http, b.url, path, data[10_000:20_000], 10_000)
            if not shared_uploads:
                assert r.status == 404
                body = await r.json()
                assert body["errors"][0]["code"] == "BLOB_UPLOAD_UNKNOWN"
                assert "uploads_dir" in body["errors"][0]["message"]
                return
            assert r.status == 202 and r.headers["Range"] == "0-19999"
            r = await _chunk(http, a.url, path, data[20_000:], 20_000)
            assert r.status == 202
            async with http.put(f"{b.url}/v2/{path}", params={"digest": sha(data)}) as r:
                assert r.status == 201, await r.text()
            async with http.get(f"{a.url}/v2/team/lb/blobs/{sha(data)}") as r:
                assert await r.read() == data
    finally:
        a.stop()
        b.stop()
