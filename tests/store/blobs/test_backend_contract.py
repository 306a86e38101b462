"""One contract test suite for every driver of the store contract (``registry.store.blobs.backend``):
the filesystem driver as the local library opens it and as the registry server opens it, and S3 (moto
server on loopback)."""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from registry.errors import BlobNotFound
from registry.oci.digest import Digest, sha256_of
from registry.ociserver.settings import ServerSettings
from registry.ociserver.store import RegistryStore
from registry.store.blobs.backend import BlobBackend
from registry.store.blobs.filesystem import FilesystemBackend
from registry.store.blobs.layout import StoreLayout
from registry.store.blobs.s3 import S3Backend, S3Settings
from registry.store.library import Library
from tests.support.s3_server import moto_s3


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    with moto_s3() as url:
        yield url


def s3_settings(endpoint: str, bucket: str, redirect: bool = False) -> S3Settings:
    return S3Settings(
        bucket=bucket,
        endpoint_url=endpoint,
        access_key="test",
        secret_key="test",
        redirect=redirect,
        create_bucket=True,
    )


@pytest.fixture(params=["filesystem", "filesystem-library", "filesystem-registry", "s3"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[BlobBackend]:
    closers: list[Callable[[], object]] = []
    if request.param == "filesystem":
        made: BlobBackend = FilesystemBackend(StoreLayout(tmp_path / "root"))
    elif request.param == "filesystem-library":
        library = Library.open(tmp_path / "root")
        closers.append(library.close)
        made = FilesystemBackend.over(library.blobs)
    elif request.param == "filesystem-registry":
        store = RegistryStore.open(ServerSettings(root=tmp_path / "root", port=0))
        assert store.backend.name == "filesystem"
        closers.append(store.db.dispose)
        made = store.backend
    else:
        endpoint = request.getfixturevalue("s3_endpoint")
        made = await asyncio.to_thread(
            S3Backend, s3_settings(endpoint, f"b{os.urandom(4).hex()}", redirect=True)
        )
    yield made
    await made.close()
    for close in closers:
        close()


def _file(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / f"f-{os.urandom(4).hex()}"
    path.write_bytes(data)
    return path


async def _read(backend: BlobBackend, digest: object, start: int, end: int) -> bytes:
    return b"".join([c async for c in backend.open_range(digest, start, end)])  # type: ignore[arg-type]


async def test_put_stat_read_ranges(backend: BlobBackend, tmp_path: Path) -> None:
    data = os.urandom(3 << 20)
    digest = sha256_of(data)
    assert await backend.stat(digest) is None
    source = _file(tmp_path, data)
    await backend.put_file(digest, source)
    assert not source.exists(), "put_file consumes the local file"
    assert await backend.stat(digest) == len(data)
    assert await _read(backend, digest, 0, len(data)) == data
    assert await _read(backend, digest, 100, 200) == data[100:200]


async def test_warm_is_best_effort_and_changes_nothing(backend: BlobBackend, tmp_path: Path) -> None:
    data = os.urandom(100_000)
    digest = sha256_of(data)
    await backend.warm(digest)  # absent: no error
    await backend.put_file(digest, _file(tmp_path, data))
    await backend.warm(digest)
    assert await _read(backend, digest, 0, len(data)) == data


async def test_sha512_blobs_are_stored_and_listed(backend: BlobBackend, tmp_path: Path) -> None:
    data = b"sha512 bytes"
    digest = Digest(hashlib.sha512(data).hexdigest(), "sha512")
    await backend.put_file(digest, _file(tmp_path, data))
    assert await backend.stat(digest) == len(data)
    assert digest in await backend.list_digests()
    assert await _read(backend, digest, 0, len(data)) == data


async def test_put_is_idempotent(backend: BlobBackend, tmp_path: Path) -> None:
    data = b"same bytes"
    digest = sha256_of(data)
    await backend.put_file(digest, _file(tmp_path, data))
    await backend.put_file(digest, _file(tmp_path, data))
    assert await backend.stat(digest) == len(data)
    assert digest in await backend.list_digests()


async def test_delete_is_idempotent_and_reading_missing_raises(backend: BlobBackend, tmp_path: Path) -> None:
    data = b"to go"
    digest = sha256_of(data)
    await backend.put_file(digest, _file(tmp_path, data))
    assert await backend.delete(digest) is True
    assert await backend.delete(digest) is False
    assert await backend.stat(digest) is None
    with pytest.raises(BlobNotFound):
        await _read(backend, digest, 0, 5)


async def test_local_path_or_presigned_url_serves_the_bytes(backend: BlobBackend, tmp_path: Path) -> None:
    import aiohttp

    data = b"served directly"
    digest = sha256_of(data)
    await backend.put_file(digest, _file(tmp_path, data))
    path = backend.local_path(digest)
    url = await backend.presigned_url(digest)
    assert (path is None) != (url is None)
    if path is not None:
        assert path.read_bytes() == data
    else:
        async with aiohttp.ClientSession() as http, http.get(url) as r:  # type: ignore[arg-type]
            assert await r.read() == data


async def test_concurrent_puts_of_one_blob(backend: BlobBackend, tmp_path: Path) -> None:
    data = os.urandom(100_000)
    digest = sha256_of(data)
    await asyncio.gather(*(backend.put_file(digest, _file(tmp_path, data)) for _ in range(4)))
    assert await _read(backend, digest, 0, len(data)) == data


async def test_missing_blob_stat_is_none_and_read_raises_even_for_an_empty_range(
    backend: BlobBackend,
) -> None:
    digest = sha256_of(b"never stored")
    assert await backend.stat(digest) is None
    assert digest not in await backend.list_digests()
    with pytest.raises(BlobNotFound):
        await _read(backend, digest, 0, 0)


async def test_walk_lists_exactly_the_stored_blobs(backend: BlobBackend, tmp_path: Path) -> None:
    blobs = [os.urandom(1000 + i) for i in range(3)]
    digests = [sha256_of(b) for b in blobs]
    for digest, data in zip(digests, blobs, strict=True):
        await backend.put_file(digest, _file(tmp_path, data))
    await backend.delete(digests[0])
    listed = await backend.list_digests()
    assert digests[0] not in listed
    assert set(digests[1:]) <= set(listed)
    assert len(listed) == len(set(listed))


async def test_empty_blob_is_stored_stated_and_deleted(backend: BlobBackend, tmp_path: Path) -> None:
    digest = sha256_of(b"")
    await backend.put_file(digest, _file(tmp_path, b""))
    assert await backend.stat(digest) == 0
    assert await _read(backend, digest, 0, 0) == b""
    assert await backend.delete(digest) is True
    assert await backend.stat(digest) is None


async def test_library_and_registry_drivers_share_one_store(tmp_path: Path) -> None:
    """The two programs open one filesystem driver: a blob either puts is the other's at once."""
    library = Library.open(tmp_path / "root")
    store = RegistryStore.open(ServerSettings(root=tmp_path / "root", port=0))
    try:
        pushed = b"pushed to the registry"
        digest = sha256_of(pushed)
        await store.backend.put_file(digest, _file(tmp_path, pushed))
        assert library.blobs.read_bytes(digest) == pushed
        pulled = library.blobs.write_bytes(b"pulled by the library")
        assert await store.backend.stat(pulled) == len(b"pulled by the library")
        assert set(await store.backend.list_digests()) == {digest, pulled}
        assert await store.backend.delete(digest) is True
        assert not library.blobs.exists(digest)
    finally:
        library.close()
        store.db.dispose()


async def test_server_on_s3_redirects_blob_gets_and_serves_heads(tmp_path: Path, s3_endpoint: str) -> None:
    import aiohttp

    from registry.ociserver.settings import ServerSettings
    from tests.support.registry_server import push_image, sha, start_registry

    settings = ServerSettings(
        root=tmp_path / "root",
        port=0,
        tag_cache_seconds=0,
        backend="s3",
        s3=s3_settings(s3_endpoint, f"srv{os.urandom(4).hex()}", redirect=True),
    )
    reg = await start_registry(settings)
    try:
        async with aiohttp.ClientSession() as http:
            layer = os.urandom(200_000)
            await push_image(http, reg.url, "s3/r", "v1", b"{}", [layer])
            url = f"{reg.url}/v2/s3/r/blobs/{sha(layer)}"
            async with http.get(url, allow_redirects=False) as r:
                assert r.status == 307
                assert r.headers["Location"].startswith(s3_endpoint)
            async with http.get(url) as r:
                assert await r.read() == layer
            async with http.head(url) as r:
                assert r.status == 200 and r.headers["Content-Length"] == str(len(layer))
    finally:
        await reg.stop()
