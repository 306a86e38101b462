"""Issue 10, library side of item 1 and item 15: nothing is published under a digest unless every
byte of the published file was hashed to exactly that digest and size, and a committed blob never
shares its inode with a file someone else can edit."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import pytest

from registry.errors import DigestMismatch
from registry.oci.digest import Digest, sha256_of
from registry.store.blobs.hashing import HashWorker
from registry.store.blobs.reflink import clone_file
from registry.store.library import Library


def blob_files(library: Library) -> list[Path]:
    return [p for p in (library.layout.root / "blobs").rglob("*") if p.is_file()]


def hashes_to_name(path: Path) -> bool:
    return hashlib.sha256(path.read_bytes()).hexdigest() == path.name


# ---- item 1: staged and partial writers --------------------------------------------------------


def test_partial_with_bytes_appended_after_verify_is_not_published(library: Library) -> None:
    data = os.urandom(100_000)
    digest = sha256_of(data)
    partial = library.partial(digest, len(data))
    partial.open()
    partial.write_at(0, data)
    partial.sync()
    partial.save_state({"parts": "all written"})
    partial.verify()
    with open(partial.path, "ab") as f:  # bytes land behind the verified state's back
        f.write(b"EVIL" * 10)
    with pytest.raises(DigestMismatch):
        library.commit(partial)
    assert not library.has_blob(digest) and blob_files(library) == []


def test_partial_with_bytes_appended_after_the_hash_is_cut_to_its_size(library: Library) -> None:
    data = os.urandom(50_000)
    digest = sha256_of(data)
    partial = library.partial(digest, len(data))
    partial.open()
    partial.write_at(0, data)
    with open(partial.path, "ab") as f:
        f.write(b"trailing bytes nobody hashed")
    library.commit_partial(partial, already_hashed=digest)  # the caller hashed exactly [0, size)
    (path,) = blob_files(library)
    assert path.read_bytes() == data and hashes_to_name(path)


def test_partial_committed_without_verify_is_verified(library: Library) -> None:
    good = os.urandom(10_000)
    digest = sha256_of(good)
    partial = library.partial(digest, len(good))
    partial.open()
    partial.write_at(0, b"X" * len(good))  # wrong bytes, and nobody called verify()
    with pytest.raises(DigestMismatch):
        library.commit(partial)
    assert blob_files(library) == [] and not partial.path.exists()
    partial = library.partial(digest, len(good))
    partial.open()
    partial.write_at(0, good)
    assert library.commit(partial) == (digest, len(good))
    (path,) = blob_files(library)
    assert hashes_to_name(path)


def test_writer_refuses_bytes_that_reached_its_file_unhashed(library: Library) -> None:
    data = os.urandom(4 << 20)  # whole blocks: all of it is on disk before finish()
    writer = library.blobs.writer(sha256_of(data), len(data))
    writer.write(data)
    with open(writer.tmp_path, "ab") as f:
        f.write(b"EVIL")
    with pytest.raises(DigestMismatch):
        library.commit(writer)
    assert blob_files(library) == [] and not writer.tmp_path.exists()


def test_hash_worker_digest_covers_exactly_the_blob_size(tmp_path: Path) -> None:
    data = os.urandom(4096)
    path = tmp_path / "part"
    path.write_bytes(data + b"extra")

    def read_at(offset: int, length: int) -> bytes:
        return os.pread(fd, length, offset)

    fd = os.open(path, os.O_RDONLY)
    try:
        worker = HashWorker(read_at)
        worker.try_feed(0, [data + b"extra"])  # fed past the end of the blob
        with pytest.raises(DigestMismatch):
            worker.finish(len(data))
        worker = HashWorker(read_at)
        worker.catch_up(2048)
        assert worker.finish(len(data)) == sha256_of(data)
    finally:
        os.close(fd)


# ---- item 15: a file from outside the store is never a committed blob's inode ---------------------


@pytest.mark.parametrize("edit", ["append", "overwrite", "chmod"])
def test_editing_the_source_never_changes_the_committed_blob(
    library: Library, tmp_path: Path, edit: str
) -> None:
    source = tmp_path / "user.gguf"
    data = os.urandom(3 << 20)
    source.write_bytes(data)
    digest, size = library.add_file(source)
    blob = library.blob_path(digest)
    assert blob.stat().st_ino != source.stat().st_ino and blob.stat().st_nlink == 1
    assert not blob.stat().st_mode & 0o222  # committed blobs are read-only
    if edit == "append":
        with open(source, "ab") as f:
            f.write(b"appended")
    elif edit == "overwrite":
        with open(source, "r+b") as f:
            f.write(b"\0" * 4096)
    else:
        source.chmod(0o600)
    assert blob.read_bytes() == data and Digest.parse(f"sha256:{blob.name}") == digest
    assert hashes_to_name(blob) and size == len(data)
    assert library.verify().ok


def test_staged_then_edited_before_commit_publishes_only_hashed_bytes(
    library: Library, tmp_path: Path
) -> None:
    source = tmp_path / "user.gguf"
    source.write_bytes(b"A" * 100_000)
    staged = library.blobs.stage_file(source)
    with open(source, "r+b") as f:
        f.write(b"B" * 100)
    digest, _ = library.commit(staged)
    assert library.blob_path(digest).read_bytes() == b"A" * 100_000
    assert library.verify().ok


def test_reflink_clone_where_the_file_system_has_them(library: Library, tmp_path: Path) -> None:
    source = library.layout.tmp_dir.parent / "probe"
    source.write_bytes(b"probe")
    probe_dest = library.layout.tmp_dir / "probe-clone"
    with open(source, "rb") as src, open(probe_dest, "wb") as dst:
        supported = clone_file(src.fileno(), dst.fileno())
    source.unlink()
    probe_dest.unlink()
    if not supported:
        pytest.skip("this file system has no reflinks (the copy path is tested above)")
    user = library.layout.root / "user.gguf"
    shutil.copy(__file__, user)
    digest, _ = library.add_file(user)
    with open(user, "ab") as f:
        f.write(b"edit")
    assert hashes_to_name(library.blob_path(digest))
