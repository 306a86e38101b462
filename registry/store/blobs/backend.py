"""The blob backend interface. Bytes only: which blobs exist *for whom* is the catalog's business.

Contract (checked by one shared test suite against every implementation):

- ``put_file(digest, path)`` stores a local file whose bytes the caller has already verified to hash
  to ``digest``; the local file is consumed (moved or deleted). Storing an existing digest again is
  success. Readers never observe a partially written blob.
- ``stat`` returns the size or None; ``delete`` is idempotent and reports whether something went.
- ``open_range(digest, start, end)`` streams bytes ``[start, end)``; raises ``BlobNotFound``.
- ``local_path`` returns a file path when the bytes are on a local disk (the server then uses
  sendfile), else None. ``presigned_url`` returns a time-limited URL a client may be redirected to,
  or None when the backend cannot (or is configured not to) redirect.
- ``warm(digest)`` prepares a just-stored blob to be served soon (the filesystem backend reads it
  into the page cache); best effort, never raises, may do nothing.
- Every method is safe to call concurrently, from several processes sharing the same backend.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Protocol

from registry.oci.digest import Digest

__all__ = ["BlobBackend"]


class BlobBackend(Protocol):
    """Content-addressed blob bytes."""

    name: str

    async def stat(self, digest: Digest) -> int | None:
        """Size of the stored blob, or None when absent."""
        ...

    async def put_file(self, digest: Digest, path: Path) -> None:
        """Store a verified local file under ``digest`` (consumes ``path``). Idempotent."""
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
        """A local file holding the blob (for sendfile), or None for remote backends."""
        ...

    async def presigned_url(self, digest: Digest) -> str | None:
        """A short-lived URL clients may fetch the blob from, or None."""
        ...

    async def list_digests(self) -> list[Digest]:
        """Every stored blob (for GC and verification)."""
        ...

    async def close(self) -> None:
        """Release connections. Idempotent."""
        ...
