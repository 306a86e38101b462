"""Issue 10, items 1 and 13: nothing is published whose every byte was not hashed to the named digest
and size, a rejected or broken chunk leaves its session at the last accepted offset (data cut back to
it), and failed single-request or disk-full uploads leave no session and no spool data behind."""

from __future__ import annotations

import asyncio
import errno
import fcntl
import hashlib
import os
import socket
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from registry.errors import SizeInvalid
from registry.oci.digest import Digest
from registry.ociserver.http.keys import STORE
from registry.ociserver.http.raw_body import RAW_THRESHOLD
from registry.ociserver.upload_files import UploadDataLost
from registry.ociserver.uploads import UploadSpool
from registry.store.catalog import RegistryCatalog
from tests.support.registry_server import RunningRegistry, push_blob, sha, sha512, start_registry
from tests.support.small_disk import small_disk

Http = aiohttp.ClientSession
Reg = RunningRegistry

GOOD = b"GOODPREFIX"
ALGORITHMS: dict[str, Callable[[bytes], str]] = {"sha256": sha, "sha512": sha512}


async def _open_session(http: Http, reg: Reg, repo: str) -> str:
    async with http.post(f"{reg.url}/v2/{repo}/blobs/uploads/") as r:
        assert r.status == 202, await r.text()
        return r.headers["Location"]


async def _patch_good_prefix(http: Http, location: str) -> str:
    async with http.patch(location, data=GOOD, headers={"Content-Range": "0-9"}) as r:
        assert r.status == 202, await r.text()
        assert r.headers["Range"] == "0-9"
        return r.headers["Location"]


def _spool_file(reg: Reg, location: str) -> Path:
    return reg.app[STORE].spool.path(location.rsplit("/", 1)[1].split("?")[0])


async def _blob(http: Http, reg: Reg, repo: str, digest: str) -> tuple[int, bytes]:
    async with http.get(f"{reg.url}/v2/{repo}/blobs/{digest}") as r:
        return r.status, await r.read()


async def _finish_and_check(http: Http, reg: Reg, location: str, digest_of: Callable[[bytes], str]) -> None:
    """Close the session with the good prefix's digest: exactly the prefix is stored, and stays so
    when the same digest is pushed honestly from another repository."""
    digest = digest_of(GOOD)
    async with http.put(location, params={"digest": digest}) as r:
        assert r.status == 201, await r.text()
    assert await _blob(http, reg, "victim/repo", digest) == (200, GOOD)
    async with http.head(f"{reg.url}/v2/victim/repo/blobs/{digest}") as r:
        assert r.headers["Content-Length"] == str(len(GOOD))
    session = await _open_session(http, reg, "honest/repo")
    async with http.put(session, params={"digest": digest}, data=GOOD) as r:
        assert r.status == 201, await r.text()
    assert await _blob(http, reg, "honest/repo", digest) == (200, GOOD)
    assert await _blob(http, reg, "victim/repo", digest) == (200, GOOD)


@pytest.mark.parametrize("algorithm", sorted(ALGORITHMS))
@pytest.mark.parametrize("extra", [4 << 20, 3], ids=["body-longer", "body-shorter"])
async def test_chunk_not_matching_its_content_range_is_rejected_and_not_published(
    registry: Reg, http: Http, algorithm: str, extra: int
) -> None:
    location = await _patch_good_prefix(http, await _open_session(http, registry, "victim/repo"))
    body = b"E" * extra  # Content-Range 10-25 announces 16 bytes
    async with http.patch(location, data=body, headers={"Content-Range": "10-25"}) as r:
        assert r.status == 400, await r.text()
        error = (await r.json())["errors"][0]
        assert error["code"] == "SIZE_INVALID" and "Content-Range" in error["message"]
    async with http.get(location) as r:
        assert r.status == 204 and r.headers["Range"] == "0-9"
    assert _spool_file(registry, location).stat().st_size == len(GOOD)
    await _finish_and_check(http, registry, location, ALGORITHMS[algorithm])


@pytest.mark.parametrize("algorithm", sorted(ALGORITHMS))
@pytest.mark.parametrize(
    "length", [RAW_THRESHOLD + 100, 10 << 20], ids=["socket-fast-path", "aiohttp-reader"]
)
async def test_large_chunk_cut_off_mid_body_is_not_published(
    registry: Reg, http: Http, algorithm: str, length: int
) -> None:
    location = await _patch_good_prefix(http, await _open_session(http, registry, "victim/repo"))
    spool_file = _spool_file(registry, location)
    path = location.split(registry.host, 1)[1]
    host, port = registry.host.split(":")
    head = (
        f"PATCH {path} HTTP/1.1\r\nHost: {registry.host}\r\nContent-Length: {length}\r\n"
        f"Content-Range: 10-{10 + length - 1}\r\n\r\n"
    ).encode()
    with socket.create_connection((host, int(port))) as s:
        await asyncio.to_thread(s.sendall, head + b"E" * (length // 2))
        for _ in range(400):  # until the server has written some of it (it holds the session meanwhile)
            if spool_file.stat().st_size > len(GOOD):
                break
            await asyncio.sleep(0.05)
        assert spool_file.stat().st_size > len(GOOD)
    # The socket is closed mid-body. The PUT waits for the broken PATCH to give the session back.
    await _finish_and_check(http, registry, location, ALGORITHMS[algorithm])


async def test_failed_append_cuts_the_file_back_to_the_accepted_offset(tmp_path: Path) -> None:
    spool = UploadSpool(tmp_path / "spool")
    spool.create("a" * 32)
    assert await spool.append("a" * 32, 0, _pieces([GOOD])) == len(GOOD)

    async def breaks() -> AsyncIterator[bytes]:
        yield b"x" * (5 << 20)  # one full batch reaches the write lane
        yield b"y" * 4096
        raise SizeInvalid("the client went away")

    with pytest.raises(SizeInvalid):
        await spool.append("a" * 32, len(GOOD), breaks())
    assert spool.path("a" * 32).read_bytes() == GOOD
    with pytest.raises(SizeInvalid):
        await spool.append("a" * 32, len(GOOD), _pieces([b"z" * (5 << 20)]), length=16)
    assert spool.path("a" * 32).read_bytes() == GOOD
    assert await spool.seal("a" * 32, len(GOOD), "sha512") == hashlib.sha512(GOOD).hexdigest()


async def test_seal_cuts_bytes_past_the_accepted_offset(tmp_path: Path) -> None:
    """Bytes past the accepted offset (a crash mid-chunk) are cut off before hashing for publishing."""
    spool = UploadSpool(tmp_path / "spool")
    spool.create("b" * 32)
    assert await spool.append("b" * 32, 0, _pieces([GOOD])) == len(GOOD)
    with spool.path("b" * 32).open("ab") as f:
        f.write(b"EVIL" * 1000)
    assert await spool.seal("b" * 32, len(GOOD)) == hashlib.sha256(GOOD).hexdigest()
    assert spool.path("b" * 32).read_bytes() == GOOD


async def test_cut_back_undoes_an_append_the_catalog_did_not_record(tmp_path: Path) -> None:
    spool = UploadSpool(tmp_path / "spool")
    spool.create("e" * 32)
    assert await spool.append("e" * 32, 0, _pieces([GOOD])) == len(GOOD)
    assert await spool.append("e" * 32, len(GOOD), _pieces([b"more" * 1000])) == len(GOOD) + 4000
    await spool.cut_back("e" * 32, len(GOOD))
    assert spool.path("e" * 32).read_bytes() == GOOD
    assert await spool.seal("e" * 32, len(GOOD)) == hashlib.sha256(GOOD).hexdigest()


async def test_session_file_left_linked_to_a_blob_is_never_written(tmp_path: Path) -> None:
    """Publishing hard-links the session file to the blob and then drops the session's name; after a
    crash between the two, the session's file *is* the blob: a later chunk must not write to it."""
    spool = UploadSpool(tmp_path / "spool")
    spool.create("d" * 32)
    assert await spool.append("d" * 32, 0, _pieces([GOOD])) == len(GOOD)
    blob = tmp_path / "blob"
    os.link(spool.path("d" * 32), blob)
    with pytest.raises(UploadDataLost):
        await spool.append("d" * 32, len(GOOD), _pieces([b"EVIL"]))
    assert blob.read_bytes() == GOOD
    with spool.path("d" * 32).open("ab") as f:  # (not possible through the spool: shown for seal)
        f.write(b"EVIL")
    with pytest.raises(UploadDataLost):
        await spool.seal("d" * 32, len(GOOD))
    assert blob.read_bytes() == GOOD + b"EVIL"  # seal did not cut the shared file either


async def test_seal_hashes_the_file_itself_when_no_cross_process_lock_is_held(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a file system without ``flock`` another process may have written the session's file: the
    running hash then proves nothing about it, so sealing hashes the file's bytes."""

    def no_flock(fd: int, operation: int) -> None:
        raise OSError(errno.ENOLCK, "no locks available")

    monkeypatch.setattr(fcntl, "flock", no_flock)
    spool = UploadSpool(tmp_path / "spool")
    spool.create("c" * 32)
    async with spool.exclusive("c" * 32):
        assert await spool.append("c" * 32, 0, _pieces([GOOD])) == len(GOOD)
    spool.path("c" * 32).write_bytes(b"OTHERBYTES")  # what a second, unlocked writer left
    async with spool.exclusive("c" * 32):
        assert await spool.seal("c" * 32, len(GOOD)) == hashlib.sha256(b"OTHERBYTES").hexdigest()


async def test_stored_blob_of_the_wrong_size_is_not_served_and_an_honest_push_replaces_it(
    registry: Reg, http: Http
) -> None:
    """A blob file poisoned before this fix (longer than its recorded size) is refused, and the next
    honest push of its digest heals it."""
    store = registry.app[STORE]
    digest = Digest(hashlib.sha256(GOOD).hexdigest())
    await store.write(lambda c: RegistryCatalog.touch_blob(c, digest, len(GOOD)))
    await store.write(lambda c: RegistryCatalog.link_blob(c, "victim/repo", digest))
    path = store.backend.local_path(digest)
    assert path is not None
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(GOOD + b"EVIL" * 4)
    status, body = await _blob(http, registry, "victim/repo", str(digest))
    assert status == 404 and b"EVIL" not in body
    async with http.head(f"{registry.url}/v2/victim/repo/blobs/{digest}") as r:
        assert r.status == 404
    await push_blob(http, registry.url, "honest/repo", GOOD)
    assert await _blob(http, registry, "victim/repo", str(digest)) == (200, GOOD)
    assert path.read_bytes() == GOOD


# -- item 13: nothing left behind --------------------------------------------------------------------


async def _assert_no_upload_left(reg: Reg) -> None:
    store = reg.app[STORE]
    assert await store.read(RegistryCatalog.upload_ids) == set()
    assert sorted(os.listdir(store.spool.directory)) == []


@pytest.mark.parametrize(
    ("digest", "status", "code"),
    [
        ("sha256:" + "0" * 64, 400, "DIGEST_INVALID"),  # wrong digest
        (sha512(b"other"), 400, "DIGEST_INVALID"),
        ("sha256:nothex", 400, "DIGEST_INVALID"),  # malformed: refused before a session exists
    ],
)
async def test_failed_single_request_upload_leaves_nothing(
    registry: Reg, http: Http, digest: str, status: int, code: str
) -> None:
    url = f"{registry.url}/v2/mono/repo/blobs/uploads/"
    async with http.post(url, params={"digest": digest}, data=os.urandom(100_000)) as r:
        assert r.status == status, await r.text()
        assert (await r.json())["errors"][0]["code"] == code
    await _assert_no_upload_left(registry)


async def test_single_request_upload_over_the_limit_leaves_nothing(make_settings: Any, http: Http) -> None:
    reg = await start_registry(make_settings(max_upload_bytes=1000))
    try:
        url = f"{reg.url}/v2/mono/repo/blobs/uploads/"
        async with http.post(url, params={"digest": sha(b"x" * 5000)}, data=b"x" * 5000) as r:
            assert r.status == 413
        await _assert_no_upload_left(reg)
    finally:
        await reg.stop()


async def test_uploads_failing_on_a_full_disk_leave_nothing(
    make_settings: Any, http: Http, tmp_path: Path
) -> None:
    with small_disk(tmp_path / "disk", "3m") as disk:
        reg = await start_registry(make_settings(root=disk / "root"))
        try:
            big = os.urandom(6 << 20)
            url = f"{reg.url}/v2/full/repo/blobs/uploads/"
            async with http.post(url, params={"digest": sha(big)}, data=big) as r:
                assert r.status == 507, await r.text()
                assert "start it again" in (await r.json())["errors"][0]["message"]
            await _assert_no_upload_left(reg)

            location = await _open_session(http, reg, "full/repo")
            async with http.patch(location, data=b"a" * 1000, headers={"Content-Range": "0-999"}) as r:
                assert r.status == 202
            async with http.patch(location, data=big) as r:
                assert r.status == 507, await r.text()
            async with http.get(location) as r:
                assert r.status == 404
            await _assert_no_upload_left(reg)

            location = await _open_session(http, reg, "full/repo")
            async with http.put(location, params={"digest": sha(big)}, data=big) as r:
                assert r.status == 507, await r.text()
            await _assert_no_upload_left(reg)

            await push_blob(http, reg.url, "full/repo", b"the disk has room again")
        finally:
            await reg.stop()


async def _pieces(parts: list[bytes]) -> AsyncIterator[bytes]:
    for part in parts:
        yield part
