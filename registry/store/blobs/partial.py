"""Resumable partial blobs: data written at offsets, state persisted beside it, survives SIGKILL.

    partials/<hex>        the data, written in place at the offsets the transfer gives
    partials/<hex>.json   the state: {"digest", "size", "state": <caller's JSON>}, replaced atomically

The caller (a download or an upload) owns the meaning of ``state`` (which parts are done, the ETag,
how far the running hash got). The rule that makes resume safe: persist state only *after* the data
it describes was flushed (``sync()`` then ``save_state()``), so after a crash the state never claims
bytes that are not on disk. Data beyond what the state claims is simply written again.

Several processes must not write the same partial at once; callers hold a lease/lock (see
``registry.store.library``) for that. ``verify()`` checks the whole file; the library then publishes it as a blob (``Library.commit``).

Publishing never trusts unchecked bytes: ``finish()`` verifies first if ``verify()`` was not called,
``verify()`` cuts the file to exactly ``size`` bytes before it hashes (or accepts the caller's hash
of exactly those bytes), and ``publish()`` refuses a file whose size or modification time changed
after it was verified (bytes written or appended behind its back): the partial is discarded and
:class:`DigestMismatch` raised.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from registry.errors import DigestMismatch, SizeInvalid
from registry.oci.digest import Digest
from registry.store.blobs.hashing import hash_descriptor
from registry.store.blobs.layout import StoreLayout
from registry.store.blobs.local import BlobStore
from registry.store.blobs.oserrors import raise_store_error
from registry.store.blobs.writer import (
    file_state,
    fsync_dir,
    hold_open_locked,
    publish_file,
    refuse_if_changed,
)

__all__ = ["PartialBlob"]


class PartialBlob:
    """One resumable partial file for a blob of known digest and size."""

    def __init__(self, store: BlobStore, digest: Digest, size: int) -> None:
        if size < 0:
            raise SizeInvalid(f"invalid blob size {size}")
        self.store = store
        self.digest = digest
        self.size = size
        layout: StoreLayout = store.layout
        self.path = layout.partial_path(digest)
        self.state_path = layout.partial_state_path(digest)
        self._fd: int | None = None
        self._verified: tuple[int, int] | None = None  # (st_size, st_mtime_ns) when verified
        self._published: Path | None = None

    def open(self) -> dict[str, Any]:
        """Open (creating if needed) the data file; return the persisted state (``{}`` if none or stale).

        A state file for another size is stale (the upstream blob changed): the data is discarded.
        """
        state: dict[str, Any] = {}
        try:
            doc = json.loads(self.state_path.read_text())
            if doc.get("digest") == str(self.digest) and doc.get("size") == self.size:
                state = dict(doc.get("state") or {})
        except (OSError, ValueError):
            state = {}
        if not state:
            self.path.unlink(missing_ok=True)
        try:
            self._fd = hold_open_locked(self.path, os.O_RDWR | os.O_CREAT)  # marks it live for prune
        except OSError as err:
            raise_store_error(err, "opening a partial download")
        return state

    @property
    def fd(self) -> int:
        """The open data file descriptor (after :meth:`open`)."""
        if self._fd is None:
            raise RuntimeError("PartialBlob.open() was not called")
        return self._fd

    def write_at(self, offset: int, data: bytes | bytearray | memoryview) -> None:
        """Write ``data`` at ``offset``. Raises :class:`DiskFull` (data so far is kept)."""
        if offset < 0 or offset + len(data) > self.size:
            raise SizeInvalid(
                f"write of {len(data)} bytes at {offset} is outside the blob's {self.size} bytes"
            )
        view = memoryview(data)
        try:
            while view:
                n = os.pwrite(self.fd, view, offset)
                view = view[n:]
                offset += n
        except OSError as err:
            raise_store_error(err, "writing a partial download")

    def read_at(self, offset: int, length: int) -> bytes:
        """Read back bytes already written (for resuming a running hash)."""
        return os.pread(self.fd, length, offset)

    def sync(self) -> None:
        """fsync the data; call before :meth:`save_state` claims it."""
        os.fsync(self.fd)

    def save_state(self, state: dict[str, Any]) -> None:
        """Atomically persist ``state`` (JSON-serialisable)."""
        doc = {"digest": str(self.digest), "size": self.size, "state": state}
        tmp = self.state_path.with_name(f"{self.state_path.name}.{os.getpid()}.tmp")
        try:
            tmp.write_text(json.dumps(doc))
            os.replace(tmp, self.state_path)
        except OSError as err:
            tmp.unlink(missing_ok=True)
            raise_store_error(err, "saving partial download state")

    def verify(self, already_hashed: Digest | None = None) -> tuple[Digest, int]:
        """Check the complete file against the digest; return ``(digest, size)``.

        The file is first cut to exactly ``size`` bytes. ``already_hashed``: the digest the caller
        computed in order over exactly bytes ``[0, size)`` of this file (``HashWorker.finish``); when
        given, the file is not read again. On a mismatch the partial data is discarded (bad bytes
        must not be resumed from) and :class:`DigestMismatch` is raised.
        """
        self._verified = None
        self.sync()
        if os.fstat(self.fd).st_size != self.size:
            os.ftruncate(self.fd, self.size)
            self.sync()
        actual = already_hashed
        if actual is None:
            actual, size = hash_descriptor(self.fd)
            if size != self.size:
                actual = None
        if actual != self.digest:
            self.discard()
            raise DigestMismatch(
                f"digest mismatch: expected {self.digest}, got {actual}; the download was discarded"
            )
        self._verified = file_state(self.fd)
        return self.digest, self.size

    def finish(self) -> tuple[Digest, int]:
        """:class:`StagedBlob` protocol: digest and size, verifying the whole file first unless
        :meth:`verify` already did. Raises :class:`DigestMismatch` (the partial is discarded)."""
        if self._verified is None:
            if self._fd is None:
                try:
                    self._fd = hold_open_locked(self.path, os.O_RDWR)
                except OSError as err:
                    raise_store_error(err, "opening a partial download")
            self.verify()
        return self.digest, self.size

    def publish(self) -> Path:
        """Publish the verified file as the blob and remove the partial files (StagedBlob protocol).

        Raises:
            DigestMismatch: not verified, or the file changed since it was verified (discarded).
        """
        if self._published is not None:
            return self._published
        self.finish()
        try:
            refuse_if_changed(self.fd, self._verified, f"{self.digest} (partial, discarded)")
        except DigestMismatch:
            self.discard()
            raise
        final = self.store.path(self.digest)
        try:
            publish_file(self.path, final)
        except OSError as err:
            raise_store_error(err, "committing a download")
        finally:
            self.close()
        self.state_path.unlink(missing_ok=True)
        fsync_dir(self.path.parent)
        self._published = final
        return final

    def abort(self) -> None:
        """StagedBlob protocol: keep the data for a later resume, just close it."""
        self.close()

    def discard(self) -> None:
        """Remove the data and state files. Idempotent."""
        self.close()
        self.path.unlink(missing_ok=True)
        self.state_path.unlink(missing_ok=True)

    def close(self) -> None:
        """Close the data file (the partial stays for a later resume). Idempotent."""
        self._verified = None
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
