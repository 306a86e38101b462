"""The filesystem driver of the store contract: the async face of :class:`BlobStore`.

Layout, publish ("link if absent"), stat, delete and walk are :class:`BlobStore`'s, the very code the
local model library uses, run in worker threads; this module adds only what serving needs (ranged
streaming, the page-cache warm-up). So a blob file is either complete and correct or absent, whichever
program wrote it.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path

from registry.oci.digest import Digest
from registry.store.blobs.layout import StoreLayout
from registry.store.blobs.local import BlobStore
from registry.store.blobs.page_cache import warm_limit, warm_page_cache

__all__ = ["FilesystemBackend"]

_CHUNK = 1 << 20


class FilesystemBackend:
    """Blobs as files under ``layout.blobs_dir``. Safe for several processes sharing the root."""

    name = "filesystem"

    def __init__(self, layout: StoreLayout) -> None:
        self.store = BlobStore(layout)
        layout.blobs_dir.mkdir(parents=True, exist_ok=True)
        self._warm_limit = warm_limit()

    @classmethod
    def over(cls, store: BlobStore) -> FilesystemBackend:
        """The driver over a library's store (the same files, the same code)."""
        return cls(store.layout)

    @property
    def layout(self) -> StoreLayout:
        """Where the files are."""
        return self.store.layout

    async def stat(self, digest: Digest) -> int | None:
        """Size of the blob file, or None."""
        return self.store.stat(digest)

    async def put_file(self, digest: Digest, path: Path) -> None:
        """fsync ``path`` and publish it atomically under the digest name (consumes ``path``).

        Raises:
            DiskFull / StoreError: the file system refused; ``path`` is left for the caller.
        """
        await asyncio.to_thread(self.store.put_verified_file, digest, path)

    async def warm(self, digest: Digest) -> None:
        """Queue the read-back of a just-committed blob into the page cache (returns once queued).

        Uploads are written with O_DIRECT, around the page cache; without this a pull right after a
        push would read the disk while docker-registry's, written through the cache, would not. The
        device completes the queued reads in order, faster than clients consume them, so waiting
        for the last one measured no better for a pull and cost the push 0.1-0.2 s per GiB. Runs
        after the commit: reads queued ahead of an ``fsync`` or a catalog commit would make those
        wait for them. Blobs above :func:`warm_limit` are left alone. Never raises.
        """
        await asyncio.to_thread(self._queue_read_back, digest)

    def _queue_read_back(self, digest: Digest) -> None:
        try:
            fd = os.open(self.store.path(digest), os.O_RDONLY)
        except OSError:
            return
        try:
            size = os.fstat(fd).st_size
            if 0 < size <= self._warm_limit:
                warm_page_cache(fd, size)
        except OSError:
            pass
        finally:
            os.close(fd)

    async def delete(self, digest: Digest) -> bool:
        """Unlink the blob file. True when it existed."""
        return self.store.unlink(digest) is not None

    async def open_range(self, digest: Digest, start: int, end: int) -> AsyncIterator[bytes]:
        """Stream ``[start, end)`` from the file (reads in a worker thread). Raises ``BlobNotFound``."""
        f = self.store.open(digest)
        try:
            f.seek(start)
            remaining = end - start
            while remaining > 0:
                data = await asyncio.to_thread(f.read, min(_CHUNK, remaining))
                if not data:
                    break
                remaining -= len(data)
                yield data
        finally:
            f.close()

    def local_path(self, digest: Digest) -> Path | None:
        """The blob's file path (it may not exist)."""
        return self.store.path(digest)

    async def presigned_url(self, digest: Digest) -> str | None:
        """Local files are served directly: always None."""
        return None

    async def list_digests(self) -> list[Digest]:
        """Every well-named blob file."""
        return list(self.store.digests())

    async def close(self) -> None:
        """Nothing to release."""
