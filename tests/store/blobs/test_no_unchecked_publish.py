"""No caller can publish unchecked bytes through any verifying writer (the ``StagedBlob`` promise).

Each writer checks its bytes (``finish``/``verify``, or the upload spool's ``seal``) and records the
file's state; bytes that reach its file behind its back, before or after that check, are refused at
publish (or cut off, for the spool, whose accepted length is known), and nothing appears under a
digest name.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from registry.errors import DigestMismatch
from registry.oci.digest import sha256_of
from registry.ociserver.uploads import UploadSpool
from registry.store.blobs import BlobStore, StagedBlob, StoreLayout


@pytest.fixture
def store(tmp_path: Path) -> Iterator[BlobStore]:
    layout = StoreLayout(tmp_path / "store")
    layout.create()
    yield BlobStore(layout)


def blob_files(store: BlobStore) -> list[Path]:
    return [p for p in (store.layout.root / "blobs").rglob("*") if p.is_file()]


def _append(path: Path) -> None:
    with open(path, "ab") as f:
        f.write(b"EVIL")


def _overwrite(path: Path) -> None:
    os.chmod(path, 0o644)
    with open(path, "r+b") as f:
        f.write(b"EVIL")
    st = os.stat(path)  # a same-size edit still moves the modification time
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))


def _stage_writer(store: BlobStore, data: bytes, tmp: Path) -> tuple[StagedBlob, Path]:
    writer = store.writer(sha256_of(data), len(data))
    writer.write(data)
    return writer, writer.tmp_path


def _stage_copy(store: BlobStore, data: bytes, tmp: Path) -> tuple[StagedBlob, Path]:
    source = tmp / "copied.bin"
    source.write_bytes(data)
    staged = store.stage_file(source, sha256_of(data))
    return staged, staged.tmp_path  # type: ignore[attr-defined]


def _stage_link(store: BlobStore, data: bytes, tmp: Path) -> tuple[StagedBlob, Path]:
    source = store.layout.tmp_dir / "quantized.bin"  # the store's own output: hard-linked
    source.write_bytes(data)
    return store.stage_file(source, sha256_of(data), link=True), source


def _stage_partial(store: BlobStore, data: bytes, tmp: Path) -> tuple[StagedBlob, Path]:
    from registry.store.blobs import PartialBlob

    partial = PartialBlob(store, sha256_of(data), len(data))
    partial.open()
    partial.write_at(0, data)
    return partial, partial.path


STAGERS: dict[str, Callable[[BlobStore, bytes, Path], tuple[StagedBlob, Path]]] = {
    "writer": _stage_writer,
    "copy": _stage_copy,
    "link": _stage_link,
    "partial": _stage_partial,
}


@pytest.mark.parametrize("edit", [_append, _overwrite], ids=["append", "overwrite"])
@pytest.mark.parametrize("when", ["before-finish", "after-finish"])
@pytest.mark.parametrize("kind", sorted(STAGERS))
def test_no_writer_publishes_bytes_changed_behind_its_back(
    store: BlobStore, tmp_path: Path, kind: str, when: str, edit: Callable[[Path], None]
) -> None:
    data = os.urandom(5 << 20)  # more than one direct-I/O block: most of it on disk before finish
    staged, backing = STAGERS[kind](store, data, tmp_path)
    if when == "after-finish" or kind in ("copy", "link"):  # these hash while staging
        staged.finish()
    edit(backing)
    try:
        staged.finish()
        published = staged.publish()
    except DigestMismatch:
        staged.abort()
        assert blob_files(store) == []
        return
    # Accepted only when the edit never reached the checked bytes (a partial is cut to its size
    # before it is hashed; a writer's buffered tail lands over an append): exactly they are published.
    assert when == "before-finish"
    assert published.read_bytes() == data and blob_files(store) == [published]


@pytest.mark.parametrize("kind", sorted(STAGERS))
def test_every_writer_publishes_checked_bytes_once(store: BlobStore, tmp_path: Path, kind: str) -> None:
    data = os.urandom(100_000)
    staged, _ = STAGERS[kind](store, data, tmp_path)
    assert staged.finish() == (sha256_of(data), len(data))
    final = staged.publish()
    assert staged.publish() == final  # idempotent
    assert final.read_bytes() == data and blob_files(store) == [final]


async def _body(*pieces: bytes) -> AsyncIterator[bytes]:
    for piece in pieces:
        yield piece


async def test_upload_spool_seals_exactly_the_accepted_bytes(tmp_path: Path) -> None:
    spool = UploadSpool(tmp_path / "uploads")
    upload_id = "ab" * 16
    spool.create(upload_id)
    data = os.urandom(6 << 20)
    offset = await spool.append(upload_id, 0, _body(data[:1000], data[1000:]))
    assert offset == len(data)
    _append(spool.path(upload_id))  # bytes nobody accepted reach the session file
    assert await spool.seal(upload_id, offset) == hashlib.sha256(data).hexdigest()
    assert spool.path(upload_id).read_bytes() == data
    assert await spool.seal(upload_id, offset, "sha512") == hashlib.sha512(data).hexdigest()
