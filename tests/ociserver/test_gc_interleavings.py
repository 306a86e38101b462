"""The GC protocol's hard interleavings, each forced deterministically (issue 10 items 2 and 5).

- A sweep stopped after its tombstone commit (before, or after, deleting the bytes) while the same
  digest is pushed again: the push revives the row, re-checks the backend, re-stores the bytes when
  they are gone, and the next sweep deletes nothing the push relies on.
- A push whose pin a sweep dropped (it expired) between storing the bytes and linking them fails
  with an error and links nothing; a pinned push is never swept, even at grace 0.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import aiohttp

from registry.errors import StoreError
from registry.oci.digest import Digest
from registry.ociserver.blob_commit import PIN_SECONDS, commit_blob
from registry.ociserver.gc import collect_garbage
from registry.ociserver.http.keys import STORE
from registry.store.blobs.filesystem import FilesystemBackend
from registry.store.catalog import RegistryCatalog, RegistryGcQueries
from tests.support.registry_server import RunningRegistry, image_manifest, push_blob, push_image, sha

Http = aiohttp.ClientSession


async def _tombstone(registry: RunningRegistry, digest: Digest) -> None:
    """What a sweep commits in its first phase (then it is "killed")."""
    await registry.app[STORE].write(lambda c: RegistryGcQueries.tombstone_blobs(c, [digest]))


async def test_tombstoned_blob_is_absent_and_a_new_push_revives_it(
    registry: RunningRegistry, http: Http
) -> None:
    blob = b"revived with its bytes"
    digest = Digest.parse_oci(await push_blob(http, registry.url, "t/r", blob))
    await _tombstone(registry, digest)
    async with http.head(f"{registry.url}/v2/t/r/blobs/{digest}") as r:
        assert r.status == 404  # tombstoned: absent, although its bytes are still there
    async with http.post(f"{registry.url}/v2/t/s/blobs/uploads/", params={"mount": str(digest)}) as r:
        assert r.status == 202  # nothing to mount from
    _, _ = await push_image(http, registry.url, "t/r", "v1", blob, [blob])
    report = await collect_garbage(registry.app[STORE], grace=0, upload_max_age=3600, now=time.time() + 1)
    assert digest not in report.blobs
    async with http.get(f"{registry.url}/v2/t/r/blobs/{digest}") as r:
        assert r.status == 200 and await r.read() == blob


async def test_blob_whose_bytes_a_killed_sweep_deleted_is_stored_again_by_the_next_push(
    registry: RunningRegistry, http: Http
) -> None:
    store = registry.app[STORE]
    blob = b"bytes deleted, row still tombstoned"
    digest = Digest.parse_oci(await push_blob(http, registry.url, "t/r", blob))
    await _tombstone(registry, digest)
    assert await store.backend.delete(digest)  # the sweep was killed right after this
    async with http.put(
        f"{registry.url}/v2/t/r/manifests/v0",
        data=image_manifest(blob, [blob]),
        headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"},
    ) as r:
        assert r.status == 400 and "MANIFEST_BLOB_UNKNOWN" in await r.text()
    _, _ = await push_image(http, registry.url, "t/r", "v1", blob, [blob])
    assert await store.backend.stat(digest) == len(blob)  # re-stored, not assumed
    report = await collect_garbage(store, grace=3600, upload_max_age=3600)
    assert report.blobs == []
    async with http.get(f"{registry.url}/v2/t/r/blobs/{digest}") as r:
        assert r.status == 200 and await r.read() == blob


async def test_pinned_push_is_never_swept_even_at_grace_zero(registry: RunningRegistry) -> None:
    store = registry.app[STORE]
    digest = Digest.parse_oci(sha(b"in flight"))

    def pin(conn: Any) -> None:
        RegistryCatalog.touch_blob(conn, digest, 9)
        RegistryCatalog.pin_blob(conn, digest, "upload-1", time.time() + PIN_SECONDS)

    await store.write(pin)
    report = await collect_garbage(store, grace=0, upload_max_age=3600, now=time.time() + 60)
    assert report.blobs == []
    expired = await collect_garbage(store, grace=0, upload_max_age=3600, now=time.time() + PIN_SECONDS + 60)
    assert expired.blobs == [digest]


class _SweepDuringPut(FilesystemBackend):
    """The real filesystem backend; a sweep (its pins long expired) runs while a file is stored."""

    sweep: Any = None

    async def put_file(self, digest: Digest, path: Path) -> None:
        await super().put_file(digest, path)
        await self.sweep()


async def test_push_whose_pin_expired_fails_and_links_nothing(
    registry: RunningRegistry, tmp_path: Path
) -> None:
    store = registry.app[STORE]
    assert isinstance(store.backend, FilesystemBackend)
    backend = _SweepDuringPut(store.backend.layout)

    async def sweep() -> None:
        await collect_garbage(store, grace=0, upload_max_age=3600, now=time.time() + PIN_SECONDS + 60)

    backend.sweep = sweep
    original, store.backend = store.backend, backend
    try:
        source = tmp_path / "blob"
        source.write_bytes(b"too slow")
        digest = Digest.parse_oci(sha(b"too slow"))
        try:
            await commit_blob(store, "t/r", digest, 8, source, holder="slow-push")
        except StoreError as err:
            assert "garbage-collected" in str(err)
        else:
            raise AssertionError("a push whose pin was swept must fail")
        assert await store.read(lambda c: RegistryCatalog.repo_blob_size(c, "t/r", digest)) is None
    finally:
        store.backend = original
