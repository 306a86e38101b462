"""The two lanes of one upload chunk: the running hash and the disk write, side by side.

A chunk's body arrives in batches (lists of the pieces the socket produced, no joining copy). Each batch
is hashed in the default executor and written, in order, by one dedicated thread; see
:class:`HashWriteLanes`. :func:`write_and_hash` is the one-thread form for a chunk's last, short batch.

Concurrency: one :class:`HashWriteLanes` serves one append, driven from one task; the caller (the
upload spool) holds the session's lock, so no other writer touches the file meanwhile.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import deque
from concurrent.futures import ThreadPoolExecutor

from registry.store.blobs.appender import Appender
from registry.store.blobs.writer import raise_store_error

__all__ = ["WRITE_LAG", "HashWriteLanes", "write_and_hash"]

WRITE_LAG = 4  # batches the write lane may fall behind the hash lane (16 MiB)


class HashWriteLanes:
    """Hash and write batches of one append on two lanes that run side by side.

    Hashing is on the critical path (it must keep up with the socket), so a new batch waits only for
    the previous batch's hash. Writes (``O_DIRECT`` plus the page-cache read-back) go in order through
    one dedicated thread and may lag up to :data:`WRITE_LAG` batches behind, so a slow write does not
    stall the hash. ``finish`` waits for both lanes and raises the first error; ``abandon`` waits
    without raising (used when the append already failed).
    """

    def __init__(self, hasher: hashlib._Hash, appender: Appender) -> None:
        self._hasher = hasher
        self._appender = appender
        self._hash: asyncio.Future[None] | None = None
        self._writes: deque[asyncio.Future[None]] = deque()
        self._writer: ThreadPoolExecutor | None = None

    async def submit(self, batch: list[bytes | bytearray]) -> None:
        """Queue ``batch`` on both lanes, after waiting for room."""
        loop = asyncio.get_running_loop()
        if self._hash is not None:
            await self._hash
        self._hash = loop.run_in_executor(None, _hash_pieces, self._hasher, batch)
        while len(self._writes) >= WRITE_LAG:
            await self._writes.popleft()
        if self._writer is None:
            self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="upload-write")
        self._writes.append(loop.run_in_executor(self._writer, _write_pieces, self._appender, batch))

    async def finish(self) -> None:
        """Wait for every queued batch; raise the first failure."""
        try:
            if self._hash is not None:
                await self._hash
                self._hash = None
            while self._writes:
                await self._writes.popleft()
        finally:
            await self.abandon()

    async def abandon(self) -> None:
        """Wait for whatever is still running (ignoring its errors) and stop the writer thread."""
        pending = [f for f in (self._hash, *self._writes) if f is not None]
        self._hash = None
        self._writes.clear()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
        if self._writer is not None:
            self._writer.shutdown(wait=False)
            self._writer = None


def write_and_hash(f: Appender, hasher: hashlib._Hash, pieces: list[bytes | bytearray]) -> None:
    """Hash and write each piece as received (no joining copy). Runs in a worker thread.

    Raises:
        DiskFull / StoreError: the disk refused (``hasher`` has then consumed part of ``pieces``).
    """
    try:
        for piece in pieces:
            hasher.update(piece)
            f.write(piece)
    except OSError as err:
        raise_store_error(err, "writing an upload")


def _hash_pieces(hasher: hashlib._Hash, pieces: list[bytes | bytearray]) -> None:
    for piece in pieces:
        hasher.update(piece)


def _write_pieces(f: Appender, pieces: list[bytes | bytearray]) -> None:
    try:
        for piece in pieces:
            f.write(piece)
    except OSError as err:
        raise_store_error(err, "writing an upload")
