"""The content-addressed store contract: the one interface to blob bytes, for both programs.

Bytes only: which blobs exist *for whom* is a catalog's business. Two drivers satisfy it:
:class:`~registry.store.blobs.filesystem.FilesystemBackend` (the async face of the local library's
:class:`~registry.store.blobs.local.BlobStore`, which is its one implementation of layout, publish,
stat, delete and walk) and :class:`~registry.store.blobs.s3.S3Backend`. The registry server holds a
``BlobBackend``; the model server's library uses the same files through ``BlobStore`` directly
(synchronously). One test suite (``tests/store/blobs/test_backend_contract.py``) runs against every
driver, opened as each program opens it.

Contract:

- **put verified, link if absent**: ``put_file(digest, path)`` stores a local file whose bytes the
  caller has already verified to hash to ``digest`` (a verifying writer did: see
  :mod:`registry.store.blobs.writer`); the local file is consumed (moved or deleted). The blob appears
  under its name atomically: readers never observe a partially written blob, and storing a digest
  that is already there is success (idempotent; concurrent puts of one digest, from any number of
  processes, all succeed and leave one copy). Raises :class:`~registry.errors.DiskFull` /
  :class:`~registry.errors.StoreError` (the local file is then left to the caller).
- **stat**: ``stat(digest)`` is the stored size, or None when absent. Never raises ``BlobNotFound``.
- **open ranged**: ``open_range(digest, start, end)`` streams bytes ``[start, end)``; raises
  :class:`~registry.errors.BlobNotFound` when absent (on the first iteration).
- **delete**: ``delete(digest)`` is idempotent and reports whether something went. The store does not
  know whether anything still needs the blob: the caller's collector decides (under its own lock).
- **walk**: ``list_digests()`` is every stored blob, every supported algorithm (for GC and verify);
  stray names are skipped. A walk concurrent with puts and deletes may or may not see those blobs.
- ``local_path`` returns a file path when the bytes are on a local disk (the server then uses
  sendfile), else None. ``presigned_url`` returns a time-limited URL a client may be redirected to,
  or None when the driver cannot (or is configured not to) redirect.
- ``warm(digest)`` prepares a just-stored blob to be served soon (the filesystem driver reads it
  into the page cache); best effort, never raises, may do nothing.
- ``close`` releases connections; idempotent.
- Every method is safe to call concurrently, from several processes sharing the same root or bucket.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Protocol

from registry.oci.digest import Digest

__all__ = ["BlobBackend"]


class BlobBackend(Protocol):
    """Content-addressed blob bytes (the store contract above)."""

    name: str

    async def stat(self, digest: Digest) -> int | None:
        """Size of the stored blob, or None when absent."""
        ...

    async def put_file(self, digest: Digest, path: Path) -> None:
        """Store a verified local file under ``digest`` if absent (consumes ``path``). Idempotent."""
        ...

    async def delete(self, digest: Digest) -> bool:
        """Remove a blob; True when something was removed. Idempotent."""
        ...

    async def warm(self, digest: Digest) -> None:
        """Best effort: make a just-stored blob quick to serve. Never raises."""
        ...

    def open_range(self, digest: Digest, start: int, end: int) -> AsyncIterator[bytes]:
        """Stream bytes ``[start, end)`` of a blob. Raises ``BlobNotFound`` when absent."""
        ...

    def local_path(self, digest: Digest) -> Path | None:
        """A local file holding the blob (for sendfile), or None for remote drivers."""
        ...

    async def presigned_url(self, digest: Digest) -> str | None:
        """A short-lived URL clients may fetch the blob from, or None."""
        ...

    async def list_digests(self) -> list[Digest]:
        """Walk: every stored blob (for GC and verification)."""
        ...

    async def close(self) -> None:
        """Release connections. Idempotent."""
        ...
