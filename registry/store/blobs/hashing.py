"""Hashing blob bytes on their way into the store: the one home of every hash a writer computes.

The verifying writers (:class:`~registry.store.blobs.writer.BlobWriter` for a stream,
:class:`~registry.store.blobs.partial.PartialBlob` for ranged parts, the registry's upload spool for
chunked sessions) never publish a byte that was not hashed; their fast paths are here:

- :func:`hash_prefix` / :func:`hash_descriptor`: re-hash what a file already holds (``pread`` in
  1 MiB pieces, whatever the file position), for a resume or a final check;
- :class:`OverlappedHasher`: hash a large write on a helper thread while the caller writes it (both
  release the GIL), used by ``BlobWriter``;
- :class:`HashWriteLanes` / :func:`write_and_hash`: an upload chunk's running hash and its
  ``O_DIRECT`` disk write (see :mod:`~registry.store.blobs.appender`) on two lanes side by side;
- :class:`OrderedHasher` / :class:`HashWorker`: hash a blob in order while its parts land out of
  order, reading back only what must be.

Ordered hashing: the part at the hash cursor streams straight into the hash; bytes that land ahead of
the cursor (later parts) are written to disk and read back (from the page cache) once the cursor
reaches them. With one part in flight nothing is ever read twice; after a resume in a new process the
prefix already on disk is read once (hashlib state cannot be persisted). :class:`HashWorker` runs the
hasher on a dedicated thread fed in order by the download.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from registry.errors import DigestMismatch
from registry.oci.digest import Digest
from registry.store.blobs.appender import Appender
from registry.store.blobs.oserrors import raise_store_error

__all__ = [
    "OVERLAP_MIN",
    "WRITE_LAG",
    "HashWorker",
    "HashWriteLanes",
    "OrderedHasher",
    "OverlappedHasher",
    "hash_descriptor",
    "hash_file",
    "hash_prefix",
    "write_and_hash",
]

_READ = 1 << 20
#: Writes at least this large hash on a second thread while the data is written.
OVERLAP_MIN = 256 * 1024
#: Batches an upload's write lane may fall behind its hash lane (16 MiB).
WRITE_LAG = 4


def hash_prefix(fd: int, length: int | None = None, algorithm: str = "sha256") -> tuple[hashlib._Hash, int]:
    """A hasher over bytes ``[0, length)`` (``None``: to the end) of the open descriptor ``fd``, read
    with ``pread`` (whatever its path names now, and whatever its file position), and how many bytes
    it consumed: fewer than ``length`` when the file is shorter. Raises ``OSError``."""
    hasher = hashlib.new(algorithm)
    buf = bytearray(_READ)
    view = memoryview(buf)
    size = 0
    while length is None or size < length:
        want = _READ if length is None else min(_READ, length - size)
        n = os.preadv(fd, [view[:want]], size)
        if not n:
            break
        hasher.update(view[:n])
        size += n
    return hasher, size


def hash_descriptor(fd: int) -> tuple[Digest, int]:
    """sha256 and size of everything the open descriptor ``fd`` holds (see :func:`hash_prefix`)."""
    hasher, size = hash_prefix(fd)
    return Digest.from_hasher(hasher), size


def hash_file(path: Path) -> tuple[Digest, int]:
    """sha256 and size of any file, streaming. Raises ``OSError`` from the file system."""
    fd = os.open(path, os.O_RDONLY)
    try:
        return hash_descriptor(fd)
    finally:
        os.close(fd)


class OverlappedHasher:
    """A running hash whose large updates run on a helper thread while the caller does other work
    (a write) with the same bytes. Not safe for concurrent use; :meth:`close` stops the thread."""

    def __init__(self, hasher: hashlib._Hash) -> None:
        self.hasher = hasher
        self._pool: ThreadPoolExecutor | None = None

    def start(self, data: bytes | memoryview) -> Future[None] | None:
        """Hash ``data``: on the helper thread when it is large (returns the future to wait for before
        ``data`` is reused), else at once (returns None)."""
        if len(data) < OVERLAP_MIN:
            self.hasher.update(data)
            return None
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="blob-hash")
        return self._pool.submit(self.hasher.update, data)

    def close(self) -> None:
        """Wait for the helper thread and stop it. Idempotent."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None


class OrderedHasher:
    """A hash (sha256 unless told) fed strictly in offset order. Thread-safe (feeds and catch-ups
    may race)."""

    def __init__(self, algorithm: str = "sha256") -> None:
        self._hash = hashlib.new(algorithm)
        self._algorithm = algorithm
        self._lock = threading.Lock()
        self._buffer: memoryview | None = None
        self.cursor = 0

    def feed(self, offset: int, data: bytes | bytearray | memoryview) -> bool:
        """Hash ``data`` if it starts exactly at the cursor; returns whether it was consumed."""
        with self._lock:
            if offset != self.cursor:
                return False
            self._hash.update(data)
            self.cursor += len(data)
            return True

    def catch_up(self, read_at: Callable[[int, int], bytes], frontier: int) -> None:
        """Read back and hash ``[cursor, frontier)`` from disk (bytes known to be written)."""
        while True:
            with self._lock:
                if self.cursor >= frontier:
                    return
                n = min(_READ, frontier - self.cursor)
                data = read_at(self.cursor, n)
                if len(data) != n:
                    raise OSError(f"short read of the partial file at {self.cursor}")
                self._hash.update(data)
                self.cursor += n

    def catch_up_from(self, fd: int, frontier: int) -> None:
        """:meth:`catch_up` from the open file ``fd``: ``[cursor, frontier)`` is read with ``preadv``
        into one reused buffer (hot in the CPU's cache; measured cheaper than ``mmap``, whose page
        faults cost more than the copy, and than a new ``bytes`` per read). The bytes must be in the
        file. Raises ``OSError``."""
        if self._buffer is None:
            self._buffer = memoryview(bytearray(_READ))
        view = self._buffer
        while True:
            with self._lock:
                if self.cursor >= frontier:
                    return
                want = min(_READ, frontier - self.cursor)
                n = os.preadv(fd, [view[:want]], self.cursor)
                if n != want:
                    raise OSError(f"short read of the partial file at {self.cursor}")
                self._hash.update(view[:n])
                self.cursor += n

    def digest(self) -> Digest:
        """The digest of everything hashed so far."""
        with self._lock:
            return Digest(self._hash.hexdigest(), self._algorithm)


class HashWorker:
    """An :class:`OrderedHasher` fed by one dedicated thread, so hashing overlaps receiving and
    writing instead of following them on the event loop thread.

    Commands run strictly in submission order: ``feed`` (in-memory chunks at an offset; chunks not
    at the cursor are skipped and read back later) and ``catch_up`` (read back ``[cursor,
    frontier)`` from disk). At most ``max_blocks`` submissions wait at once (bounded memory).
    """

    def __init__(
        self,
        read_at: Callable[[int, int], bytes],
        max_blocks: int = 32,
        algorithm: str = "sha256",
        read_fd: int | None = None,
    ) -> None:
        import queue

        self.hasher = OrderedHasher(algorithm)
        self._read_at = read_at
        #: When set, read-backs read this file (:meth:`OrderedHasher.catch_up_from`), not ``read_at``.
        self._read_fd = read_fd
        self._queue: queue.SimpleQueue[tuple[str, int, list[bytes]] | None] = queue.SimpleQueue()
        self._slots = threading.Semaphore(max_blocks)
        self._error: BaseException | None = None
        #: Seconds the thread spent hashing and reading back (read it after :meth:`finish`).
        self.busy = 0.0
        self._thread = threading.Thread(target=self._run, name="blob-hash", daemon=True)
        self._thread.start()

    def try_feed(self, offset: int, chunks: list[bytes]) -> bool:
        """Queue chunks for hashing; False (nothing queued) when the queue is full."""
        if not self._slots.acquire(blocking=False):
            return False
        self._queue.put(("feed", offset, chunks))
        return True

    def wait_for_room(self) -> None:
        """Block until a submission fits (call in a thread), then give the slot back."""
        self._slots.acquire()
        self._slots.release()

    def catch_up(self, frontier: int) -> None:
        """Queue a read-back of everything written below ``frontier`` (never blocks: no data)."""
        self._queue.put(("catch", frontier, []))

    def finish(self, size: int) -> Digest:
        """Hash up to ``size`` and stop the thread (call in a thread); the digest covers exactly
        bytes ``[0, size)``. Raises what the thread hit, and :class:`DigestMismatch` when more than
        ``size`` bytes were fed (the digest would not be of the file's ``size`` bytes)."""
        self._queue.put(("catch", size, []))
        self._queue.put(None)
        self._thread.join()
        if self._error is not None:
            raise self._error
        if self.hasher.cursor != size:
            raise DigestMismatch(f"{self.hasher.cursor} bytes were hashed for a blob of {size} bytes")
        return self.hasher.digest()

    def stop(self) -> None:
        """Stop without a result (on failure or cancellation). Idempotent."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            kind, offset, chunks = item
            started = time.perf_counter()
            try:
                if self._error is None and kind == "feed":
                    for chunk in chunks:
                        if not self.hasher.feed(offset, chunk):
                            break
                        offset += len(chunk)
                elif self._error is None and self._read_fd is not None:
                    self.hasher.catch_up_from(self._read_fd, offset)
                elif self._error is None:
                    self.hasher.catch_up(self._read_at, offset)
            except BaseException as err:  # reported by finish()
                self._error = err
            finally:
                self.busy += time.perf_counter() - started
                if kind == "feed":
                    self._slots.release()


class HashWriteLanes:
    """Hash and write batches of one append on two lanes that run side by side.

    Hashing is on the critical path (it must keep up with the socket), so a new batch waits only for
    the previous batch's hash. Writes (``O_DIRECT`` plus the page-cache read-back) go in order through
    one dedicated thread and may lag up to :data:`WRITE_LAG` batches behind, so a slow write does not
    stall the hash. ``finish`` waits for both lanes and raises the first error; ``abandon`` waits
    without raising (used when the append already failed).

    A chunk's body arrives in batches (lists of the pieces the socket produced, no joining copy);
    :func:`write_and_hash` is the one-thread form for a chunk's last, short batch. One instance serves
    one append, driven from one task; the caller (the upload spool) holds the session's lock, so no
    other writer touches the file meanwhile.
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
