"""Upload session data: one file per session under ``<root>/uploads/<id>`` plus a live sha256
(other algorithms are computed once, when the session is closed).

The session's *state* (repository, offset, times) is in the catalog; this module owns the bytes.
Every byte is hashed on the way in. ``hashlib`` objects cannot be persisted, so after a restart (or
when another process took the previous chunk) the hash resumes by re-hashing the file's first
``offset`` bytes (about 1.5 GB/s). Bytes past the catalog's offset (a chunk cut short by a crash)
are cut off before the next chunk is written.

Concurrency: :meth:`UploadSpool.exclusive` serialises requests on one session, within a process (an
asyncio lock) and across processes sharing the spool directory (``flock`` on the data file); the
catalog offset check (done by the caller) then rejects a chunk that does not continue the session.

Several processes serving one catalog (behind a load balancer) must share one spool directory
(``[storage] uploads_dir``) for chunked uploads to move between them. When they do not, a chunk that
reaches a process without the session's data gets a clear ``BLOB_UPLOAD_UNKNOWN`` (the client starts
over) instead of writing at the wrong place.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
from collections import OrderedDict, deque
from collections.abc import AsyncIterable, AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from registry.blobstore.appender import Appender, open_appender
from registry.blobstore.file_lock import flock_exclusive
from registry.blobstore.writer import raise_store_error
from registry.errors import InvalidRange, TooLarge, UploadNotFound

__all__ = ["ChunkOutOfOrder", "UploadSpool"]

_FLUSH_AT = 4 << 20  # hand work to a thread in pieces of this size
_MAX_LIVE_HASHERS = 1024
_LOCK_POLL = 0.02  # seconds between tries for a session another process is writing
_WRITE_LAG = 4  # batches the write lane may fall behind the hash lane (16 MiB)


class ChunkOutOfOrder(InvalidRange):
    """A chunk does not start where the session ends (416, with Location and Range headers)."""

    code = "BLOB_UPLOAD_INVALID"

    def __init__(self, message: str, headers: dict[str, str]) -> None:
        super().__init__(message)
        self.headers = headers


class UploadSpool:
    """Session data files and their running hashes. One per server process."""

    def __init__(self, directory: Path, max_upload_bytes: int | None = None) -> None:
        self.directory = directory
        self.max_upload_bytes = max_upload_bytes
        directory.mkdir(parents=True, exist_ok=True)
        self._hashers: OrderedDict[str, tuple[int, hashlib._Hash]] = OrderedDict()
        self._locks: dict[str, asyncio.Lock] = {}

    def path(self, upload_id: str) -> Path:
        """The data file of a session (``upload_id`` was validated as 32 hex)."""
        return self.directory / upload_id

    def create(self, upload_id: str) -> None:
        """Create an empty data file for a new session."""
        self.path(upload_id).touch()
        self._hashers[upload_id] = (0, hashlib.sha256())

    @contextlib.asynccontextmanager
    async def exclusive(self, upload_id: str) -> AsyncIterator[None]:
        """Hold one session against every other request, in this process and in others sharing the
        spool directory. Waiting polls (no thread is held while another request writes a chunk)."""
        lock = self._locks.get(upload_id)
        if lock is None:
            lock = self._locks[upload_id] = asyncio.Lock()
        async with lock:
            try:
                fd = os.open(self.path(upload_id), os.O_RDONLY)
            except FileNotFoundError:  # no data here yet: require_data decides
                yield
                return
            try:
                with contextlib.suppress(OSError):  # no flock on this file system: in-process only
                    await flock_exclusive(fd, poll=_LOCK_POLL)
                yield
            finally:
                os.close(fd)  # releases the flock

    def require_data(self, upload_id: str, offset: int) -> None:
        """Make sure this process holds the session's data (``offset`` bytes, from the catalog).

        A session with no bytes yet may simply have been opened by another process: its data file is
        created here. Otherwise the data is out of reach.

        Raises:
            UploadNotFound: the session's bytes are held by another process (no shared spool).
        """
        path = self.path(upload_id)
        if path.exists():
            return
        if offset == 0:
            path.touch()
            return
        raise UploadNotFound(
            "blob upload unknown to registry: its data is held by another registry process "
            "(processes behind one load balancer need a shared [storage] uploads_dir); "
            "start the upload again",
            detail={"id": upload_id},
        )

    def discard(self, upload_id: str) -> None:
        """Delete a session's data and hash. Idempotent."""
        self._hashers.pop(upload_id, None)
        self._locks.pop(upload_id, None)
        self.path(upload_id).unlink(missing_ok=True)

    async def append(self, upload_id: str, offset: int, body: AsyncIterable[bytes | bytearray]) -> int:
        """Write ``body`` at ``offset`` (the session's current length). Returns the new length.

        The caller holds :meth:`lock` and has checked ``offset`` against the catalog. On an error
        mid-stream nothing of this chunk counts: the caller records no new offset and the next
        append cuts the file back to the recorded one.

        Raises:
            TooLarge: the session would exceed ``max_upload_bytes``.
            DiskFull / StoreError: the disk refused.
        """
        self.require_data(upload_id, offset)
        hasher = await self._hasher_at(upload_id, offset)
        f = await asyncio.to_thread(open_appender, self.path(upload_id), offset)
        size = offset
        pending: list[bytes | bytearray] = []
        pending_len = 0
        lanes = _Lanes(hasher, f)
        try:
            async for chunk in body:
                size += len(chunk)
                if self.max_upload_bytes is not None and size > self.max_upload_bytes:
                    raise TooLarge(f"upload exceeds the limit of {self.max_upload_bytes} bytes")
                pending.append(chunk)
                pending_len += len(chunk)
                if pending_len >= _FLUSH_AT:
                    await lanes.submit(pending)
                    pending, pending_len = [], 0
            await lanes.finish()
            if pending:
                await asyncio.to_thread(_write_and_hash, f, hasher, pending)
        except BaseException:
            await asyncio.shield(lanes.abandon())
            self._hashers.pop(upload_id, None)  # the file length now decides on the next append
            raise
        finally:
            try:
                await asyncio.to_thread(f.close)
            except OSError as err:
                self._hashers.pop(upload_id, None)
                raise_store_error(err, "writing an upload")
        self._remember(upload_id, size, hasher)
        return size

    def discard_hasher(self, upload_id: str) -> None:
        """Forget the running hash (the next use re-hashes the recorded prefix)."""
        self._hashers.pop(upload_id, None)

    async def digest_hex(self, upload_id: str, offset: int, algorithm: str = "sha256") -> str:
        """The ``algorithm`` hash (hex) of the session's first ``offset`` bytes.

        sha256 comes from the running hash; any other algorithm (sha512) re-reads the data once.

        Raises:
            UploadNotFound: the data is held by another process (see :meth:`require_data`).
        """
        self.require_data(upload_id, offset)
        if algorithm != "sha256":
            path = self.path(upload_id)
            return (await asyncio.to_thread(_hash_prefix, path, offset, algorithm)).hexdigest()
        hasher = await self._hasher_at(upload_id, offset)
        self._remember(upload_id, offset, hasher)
        return hasher.copy().hexdigest()

    async def _hasher_at(self, upload_id: str, offset: int) -> hashlib._Hash:
        known = self._hashers.get(upload_id)
        if known is not None and known[0] == offset:
            return known[1]
        return await asyncio.to_thread(_hash_prefix, self.path(upload_id), offset)

    def _remember(self, upload_id: str, offset: int, hasher: hashlib._Hash) -> None:
        self._hashers[upload_id] = (offset, hasher)
        self._hashers.move_to_end(upload_id)
        while len(self._hashers) > _MAX_LIVE_HASHERS:
            self._hashers.popitem(last=False)


class _Lanes:
    """Hash and write batches of one append on two lanes that run side by side.

    Hashing is on the critical path (it must keep up with the socket), so a new batch waits only for
    the previous batch's hash. Writes (``O_DIRECT`` plus the page-cache read-back) go in order through
    one dedicated thread and may lag up to :data:`_WRITE_LAG` batches behind, so a slow write does not
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
        while len(self._writes) >= _WRITE_LAG:
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


def _hash_pieces(hasher: hashlib._Hash, pieces: list[bytes | bytearray]) -> None:
    for piece in pieces:
        hasher.update(piece)


def _write_pieces(f: Appender, pieces: list[bytes | bytearray]) -> None:
    try:
        for piece in pieces:
            f.write(piece)
    except OSError as err:
        raise_store_error(err, "writing an upload")


def _write_and_hash(f: Appender, hasher: hashlib._Hash, pieces: list[bytes | bytearray]) -> None:
    """Hash and write each piece as received (no joining copy). Runs in a worker thread."""
    try:
        for piece in pieces:
            hasher.update(piece)
            f.write(piece)
    except OSError as err:
        raise_store_error(err, "writing an upload")


def _hash_prefix(path: Path, offset: int, algorithm: str = "sha256") -> hashlib._Hash:
    hasher = hashlib.new(algorithm)
    buf = bytearray(1 << 20)
    view = memoryview(buf)
    remaining = offset
    with open(path, "rb", buffering=0) as f:
        while remaining > 0:
            n = f.readinto(view[: min(len(buf), remaining)])
            if not n:
                raise InvalidRange(f"upload data is shorter than its recorded offset {offset}")
            hasher.update(view[:n])
            remaining -= n
    return hasher
