"""The blob store: committed, content-addressed, read-only files under one root.

This is the one implementation of the filesystem side of the store contract
(:mod:`registry.store.blobs.backend`): layout, publish ("link if absent"), stat, delete and walk. The
local library uses it directly (synchronously); the registry server through its async face,
:class:`~registry.store.blobs.filesystem.FilesystemBackend`.

Contract:
- A file under ``blobs/sha256/<ab>/<hex>`` always holds exactly the bytes whose sha256 is ``<hex>``
  (writers verify before publishing; ``verify`` re-checks).
- Publishing is "link if absent": two processes writing the same blob both succeed and the file is
  never half-written. Readers only ever open final names.
- Memory use is constant in the blob size: everything streams in :data:`CHUNK` pieces.
- The store does not know which blobs are in use; the library and its catalog decide that.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

from registry.errors import BlobNotFound, DigestMismatch
from registry.oci.digest import Digest
from registry.store.blobs.hashing import hash_file
from registry.store.blobs.layout import StoreLayout
from registry.store.blobs.oserrors import raise_store_error
from registry.store.blobs.reflink import clone_file
from registry.store.blobs.writer import (
    BlobWriter,
    LinkedBlob,
    StagedBlob,
    file_state,
    fsync_dir,
    hold_open_locked,
    publish_file,
)

__all__ = ["CHUNK", "BlobStore"]

#: Read/write chunk size. 1 MiB keeps hashing at full speed with little memory.
CHUNK = 1 << 20
#: Copies move 4 MiB at a time: one direct-I/O block, hashed on one core while written on the other.
COPY_CHUNK = 4 << 20


class BlobStore:
    """Content-addressed files under ``layout.root``. Safe for many processes at once."""

    def __init__(self, layout: StoreLayout) -> None:
        self.layout = layout

    def path(self, digest: Digest) -> Path:
        """Where the blob lives (it may not exist). Servers hand this to sendfile."""
        return self.layout.blob_path(digest)

    def exists(self, digest: Digest) -> bool:
        """True when the blob's file is present."""
        return self.path(digest).is_file()

    def stat(self, digest: Digest) -> int | None:
        """Size in bytes, or None when the blob is absent."""
        try:
            return self.path(digest).stat().st_size
        except FileNotFoundError:
            return None

    def size(self, digest: Digest) -> int:
        """Size in bytes. Raises :class:`BlobNotFound`."""
        try:
            return self.path(digest).stat().st_size
        except FileNotFoundError as err:
            raise BlobNotFound(f"blob {digest} not found") from err

    def open(self, digest: Digest) -> BinaryIO:
        """Open a committed blob for reading. Raises :class:`BlobNotFound`."""
        try:
            return open(self.path(digest), "rb")
        except FileNotFoundError as err:
            raise BlobNotFound(f"blob {digest} not found") from err

    def read_bytes(self, digest: Digest, limit: int = 16 << 20) -> bytes:
        """Read a small blob whole (configs, templates, manifests). Raises :class:`BlobNotFound`."""
        with self.open(digest) as f:
            data = f.read(limit + 1)
        if len(data) > limit:
            raise ValueError(f"blob {digest} is larger than {limit} bytes")
        return data

    def writer(self, expected: Digest | None = None, expected_size: int | None = None) -> BlobWriter:
        """A new :class:`BlobWriter` into ``tmp/``."""
        return BlobWriter(self.layout.tmp_dir, self.path, expected, expected_size)

    def write_bytes(self, data: bytes, expected: Digest | None = None) -> Digest:
        """Write and publish a small blob. Idempotent."""
        with self.writer(expected, len(data)) as w:
            w.write(data)
            w.publish()
            digest, _ = w.finish()
        return digest

    def write_chunks(
        self, chunks: Iterable[bytes], expected: Digest | None = None, expected_size: int | None = None
    ) -> tuple[Digest, int]:
        """Write and publish a stream of chunks; constant memory."""
        with self.writer(expected, expected_size) as w:
            for chunk in chunks:
                w.write(chunk)
            w.publish()
            return w.finish()

    def hash_file(self, path: Path) -> tuple[Digest, int]:
        """sha256 and size of any file, streaming. Raises ``OSError`` from the file system."""
        return hash_file(path)

    def stage_file(self, source: Path, expected: Digest | None = None, *, link: bool = False) -> StagedBlob:
        """Hash an existing file into a staged blob (publish it, or abort it).

        A file from outside the store (a user's GGUF, an Ollama blob) must never share its inode
        with a committed blob: an edit to it would change the blob behind its digest. So by
        default the store gets its own inode: a reflink clone where the file system has them (no
        data copied; later writes to ``source`` copy their blocks away), else a copy made while
        hashing, in one pass. Either way exactly the staged bytes are hashed.

        ``link=True`` is only for files the store itself produced and nobody else writes (a
        quantizer's output in ``tmp/``): they are hard-linked and hashed once (copy as fallback).

        Raises:
            DigestMismatch: nothing staged.
            DiskFull / StoreError: nothing staged.
            FileNotFoundError: ``source`` does not exist.
        """
        if link:
            linked = self._stage_by_link(source, expected)
            if linked is not None:
                return linked
        cloned = self._stage_by_clone(source, expected)
        if cloned is not None:
            return cloned
        buf = bytearray(COPY_CHUNK)
        view = memoryview(buf)
        writer = self.writer(expected)
        with open(source, "rb", buffering=0) as f, writer:
            while n := f.readinto(buf):
                writer.write(view[:n])
            writer.finish()
        return writer

    def ingest_file(
        self, source: Path, expected: Digest | None = None, *, link: bool = False
    ) -> tuple[Digest, int]:
        """:meth:`stage_file` then publish. For callers without a catalog (tests, tools)."""
        staged = self.stage_file(source, expected, link=link)
        staged.publish()
        return staged.finish()

    def _stage_by_link(self, source: Path, expected: Digest | None) -> LinkedBlob | None:
        tmp = self.layout.tmp_dir / f"l-{os.getpid()}-{os.urandom(6).hex()}"
        try:
            os.link(source, tmp)
        except OSError:
            return None  # cross-device, no permission, or no hard links: fall back to a copy
        try:
            lock_fd = hold_open_locked(tmp, os.O_RDONLY)
        except OSError:
            tmp.unlink(missing_ok=True)
            return None
        return self._hash_staged(tmp, lock_fd, expected, readonly=False)

    def _stage_by_clone(self, source: Path, expected: Digest | None) -> LinkedBlob | None:
        """A reflink clone of ``source`` in ``tmp/``, hashed there; None where clones are unsupported."""
        tmp = self.layout.tmp_dir / f"c-{os.getpid()}-{os.urandom(6).hex()}"
        try:
            src_fd = os.open(source, os.O_RDONLY)
        except OSError:
            return None  # the copy path reports the error
        try:
            lock_fd = hold_open_locked(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL)
        except OSError as err:
            os.close(src_fd)
            raise_store_error(err, "creating a temporary blob file")
            raise  # pragma: no cover - raise_store_error always raises
        try:
            cloned = clone_file(src_fd, lock_fd)
            if cloned:
                os.fsync(lock_fd)
        except OSError as err:
            tmp.unlink(missing_ok=True)
            os.close(lock_fd)
            raise_store_error(err, "cloning a file into the store")
        finally:
            os.close(src_fd)
        if not cloned:
            tmp.unlink(missing_ok=True)
            os.close(lock_fd)
            return None
        return self._hash_staged(tmp, lock_fd, expected, readonly=True)

    def _hash_staged(self, tmp: Path, lock_fd: int, expected: Digest | None, *, readonly: bool) -> LinkedBlob:
        """Hash a file staged in ``tmp/`` and check the promise; the file goes on any failure."""
        try:
            hashed_state = file_state(lock_fd)  # before hashing: a change during the hash also counts
            digest, size = self.hash_file(tmp)
            if expected is not None and digest != expected:
                raise DigestMismatch(
                    f"digest mismatch: expected {expected}, got {digest}; nothing was stored"
                )
        except BaseException as err:
            tmp.unlink(missing_ok=True)
            os.close(lock_fd)
            if isinstance(err, OSError):
                raise_store_error(err, "hashing a file for the store")
            raise
        return LinkedBlob(
            tmp, self.path(digest), digest, size, lock_fd, hashed_state=hashed_state, readonly=readonly
        )

    def put_verified_file(self, digest: Digest, path: Path) -> None:
        """fsync ``path`` (bytes a verifying writer checked hash to ``digest``) and publish it under the
        digest name if absent ("link if absent"); ``path`` is consumed. Idempotent.

        Raises:
            DiskFull / StoreError: the file system refused; ``path`` is left for the caller.
        """
        try:
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            publish_file(path, self.path(digest))
        except OSError as err:
            raise_store_error(err, "committing a blob")

    def remove(self, digest: Digest) -> int:
        """Unlink a blob; returns the bytes freed (0 if it was absent). Idempotent.

        Callers (library GC and rm) decide that nothing needs it; the store does not check.
        """
        return self.unlink(digest) or 0

    def unlink(self, digest: Digest) -> int | None:
        """Unlink a blob (durably); returns the bytes freed, None when it was absent. Idempotent."""
        path = self.path(digest)
        try:
            size = path.stat().st_size
            path.unlink()
        except FileNotFoundError:
            return None
        fsync_dir(path.parent)
        return size

    def digests(self) -> Iterator[Digest]:
        """Walk: every well-named blob file, every algorithm (stray names are skipped)."""
        return (d for d, _ in self.layout.iter_blob_files() if d is not None)

    def quarantine(self, digest: Digest) -> Path | None:
        """Move a (corrupt) blob to ``quarantine/``; returns its new path, or None if absent."""
        target = self.layout.quarantine_dir / digest.hex
        try:
            os.replace(self.path(digest), target)
        except FileNotFoundError:
            return None
        return target

    def verify_blob(self, digest: Digest) -> bool:
        """Re-hash a committed blob; True when the bytes match the name. Raises :class:`BlobNotFound`."""
        try:
            actual, _ = self.hash_file(self.path(digest))
        except FileNotFoundError as err:
            raise BlobNotFound(f"blob {digest} not found") from err
        return actual == digest
