"""The blob store: verify while writing, atomic publish, concurrent writers, resumable partials,
and a full disk."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from registry.errors import DigestMismatch, DiskFull, SizeInvalid, StoreLayoutError
from registry.oci.digest import Digest, sha256_of
from registry.store.blobs import BlobStore, PartialBlob, StoreLayout
from tests.support.small_disk import small_disk


@pytest.fixture
def store(tmp_path: Path) -> BlobStore:
    layout = StoreLayout(tmp_path / "root")
    layout.create()
    return BlobStore(layout)


def _names(store: BlobStore) -> list[str]:
    return sorted(p.name for p in store.layout.blobs_dir.rglob("*") if p.is_file())


def test_write_publishes_under_digest(store: BlobStore) -> None:
    data = b"hello" * 1000
    digest = store.write_bytes(data)
    assert digest == sha256_of(data)
    assert store.path(digest).read_bytes() == data
    assert store.path(digest).parent.name == digest.hex[:2]
    assert not any(store.layout.tmp_dir.iterdir())


def test_existing_target_is_success(store: BlobStore) -> None:
    assert store.write_bytes(b"x") == store.write_bytes(b"x")
    assert _names(store) == [sha256_of(b"x").hex]


def test_mismatch_leaves_nothing(store: BlobStore) -> None:
    with pytest.raises(DigestMismatch):
        store.write_bytes(b"abc", expected=sha256_of(b"abd"))
    assert _names(store) == []
    assert not any(store.layout.tmp_dir.iterdir())


def test_size_overrun_and_underrun_leave_nothing(store: BlobStore) -> None:
    with pytest.raises(SizeInvalid):
        store.write_chunks([b"abc", b"def"], expected_size=4)
    with pytest.raises(SizeInvalid):
        store.write_chunks([b"abc"], expected_size=4)
    assert _names(store) == [] and not any(store.layout.tmp_dir.iterdir())


def test_ingest_by_link_and_by_copy(store: BlobStore, tmp_path: Path) -> None:
    source = tmp_path / "model.gguf"
    source.write_bytes(os.urandom(3 << 20))
    digest, size = store.ingest_file(source, link=True)
    assert store.path(digest).stat().st_ino == source.stat().st_ino  # no copy
    assert source.stat().st_mode & 0o222  # the user's file is not made read-only
    store.remove(digest)
    digest2, size2 = store.ingest_file(source, link=False)
    assert (digest2, size2) == (digest, size)
    assert store.path(digest).stat().st_ino != source.stat().st_ino
    with pytest.raises(DigestMismatch):
        store.ingest_file(source, expected=sha256_of(b"other"), link=True)


def test_refuses_an_ollama_directory(tmp_path: Path) -> None:
    (tmp_path / "manifests").mkdir()
    (tmp_path / "blobs").mkdir()
    (tmp_path / "blobs" / ("sha256-" + "a" * 64)).write_bytes(b"")
    with pytest.raises(StoreLayoutError, match="Ollama models directory"):
        StoreLayout(tmp_path).create()


_WRITER = """
import sys
from pathlib import Path
from registry.store.blobs import BlobStore, StoreLayout
store = BlobStore(StoreLayout(Path(sys.argv[1])))
data = bytes(range(256)) * 40000
for _ in range(20):
    store.write_bytes(data)
"""


def test_concurrent_writers_of_one_blob(store: BlobStore) -> None:
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(store.layout.root)], cwd=Path(__file__).parents[3]
        )
        for _ in range(3)
    ]
    assert [p.wait(60) for p in procs] == [0, 0, 0]
    data = bytes(range(256)) * 40000
    assert _names(store) == [sha256_of(data).hex]
    assert store.path(sha256_of(data)).read_bytes() == data


def test_partial_resumes_from_persisted_state(store: BlobStore) -> None:
    data = os.urandom(100_000)
    digest = sha256_of(data)
    partial = PartialBlob(store, digest, len(data))
    assert partial.open() == {}
    partial.write_at(0, data[:40_000])
    partial.sync()
    partial.save_state({"written": 40_000})
    partial.close()
    again = PartialBlob(store, digest, len(data))  # as a new process would
    state = again.open()
    assert state == {"written": 40_000}
    assert again.read_at(0, 40_000) == data[:40_000]
    again.write_at(40_000, data[40_000:])
    assert again.verify() == (digest, len(data))
    again.publish()
    assert store.path(digest).read_bytes() == data
    assert not store.layout.partial_path(digest).exists()
    assert not store.layout.partial_state_path(digest).exists()


def test_partial_with_wrong_bytes_is_discarded(store: BlobStore) -> None:
    digest = sha256_of(b"right")
    partial = PartialBlob(store, digest, 5)
    partial.open()
    partial.write_at(0, b"wrong")
    with pytest.raises(DigestMismatch):
        partial.verify()
    assert not partial.path.exists() and not store.exists(digest)


def test_partial_state_for_another_size_is_stale(store: BlobStore) -> None:
    digest = sha256_of(b"abc")
    p = PartialBlob(store, digest, 3)
    p.open()
    p.save_state({"written": 3})
    p.close()
    assert PartialBlob(store, digest, 4).open() == {}


@pytest.fixture
def tiny_fs(tmp_path: Path) -> Iterator[Path]:
    with small_disk(tmp_path / "tiny") as mount_point:
        yield mount_point


def test_full_disk_gives_clear_error_and_store_stays_consistent(tiny_fs: Path) -> None:
    from registry.store.library import Library

    library = Library.open(tiny_fs / "store")
    small, _ = library.add_bytes(b"small blob")
    writer = library.blobs.writer()
    with pytest.raises(DiskFull, match="no space left"):
        for _ in range(100):
            writer.write(b"\x01" * (64 * 1024))
    assert not any(library.layout.tmp_dir.iterdir())
    assert library.has_blob(small)
    report = library.verify()
    assert report.ok and report.blobs_checked == 1
    # A partial download keeps what it wrote when the disk fills up.
    big = hashlib.sha256(b"\x02" * (4 << 20)).hexdigest()
    partial = library.partial(Digest(big), 4 << 20)
    partial.open()
    with pytest.raises(DiskFull):
        for offset in range(0, 4 << 20, 256 * 1024):
            partial.write_at(offset, b"\x02" * (256 * 1024))
    assert partial.path.exists() and partial.path.stat().st_size > 0
    partial.close()
    library.close()
