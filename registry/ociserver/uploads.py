"""Upload session data: one file per session under ``<root>/uploads/<id>`` plus a live sha256
(other algorithms are computed once, when the session is closed).

The session's *state* (repository, offset, times) is in the catalog; this module owns the bytes.
Every byte is hashed on the way in. ``hashlib`` objects cannot be persisted, so after a restart (or
when another process took the previous chunk) the hash resumes by re-hashing the file's first
``offset`` bytes (about 1.5 GB/s).

Integrity contract: a chunk is all or nothing. :meth:`UploadSpool.append` either accepts every byte of
the body (and exactly the announced length, when one is given) or cuts the data file back to the
session's accepted offset before it raises. Bytes past the catalog's offset can still exist after a
crash mid-chunk; they are cut off before the next chunk is written, and :meth:`UploadSpool.seal` cuts
them off before the file is hashed for publishing. So a published file holds exactly the bytes its
digest was computed over, never a rejected chunk's.

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
from collections import OrderedDict
from collections.abc import AsyncIterable, AsyncIterator, Awaitable
from pathlib import Path

from registry.errors import InvalidRange, SizeInvalid, TooLarge, UploadNotFound
from registry.ociserver.upload_files import (
    UploadDataLost,
    close_and_cut,
    close_appender,
    cut_to,
    is_published,
    rehash_prefix,
    touch,
)
from registry.store.blobs.appender import Appender, open_appender
from registry.store.blobs.file_lock import flock_exclusive
from registry.store.blobs.hashing import HashWriteLanes, write_and_hash

__all__ = ["ChunkOutOfOrder", "UploadSpool"]

_FLUSH_AT = 4 << 20  # hand work to a thread in pieces of this size
_MAX_LIVE_HASHERS = 1024
_LOCK_POLL = 0.02  # seconds between tries for a session another process is writing


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
        # Sessions held without a cross-process lock (file system without flock): another process may
        # have written their file, so :meth:`seal` hashes the file itself, not the running hash.
        self._without_flock: set[str] = set()

    def path(self, upload_id: str) -> Path:
        """The data file of a session (``upload_id`` was validated as 32 hex)."""
        return self.directory / upload_id

    def create(self, upload_id: str) -> None:
        """Create an empty data file for a new session.

        Raises:
            DiskFull / StoreError: the file cannot be created.
        """
        touch(self.path(upload_id))
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
                try:
                    await flock_exclusive(fd, poll=_LOCK_POLL)
                except OSError:  # no flock on this file system: in-process only
                    self._without_flock.add(upload_id)
                yield
            finally:
                self._without_flock.discard(upload_id)
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
            touch(path)
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

    async def append(
        self,
        upload_id: str,
        offset: int,
        body: AsyncIterable[bytes | bytearray],
        length: int | None = None,
    ) -> int:
        """Write ``body`` at ``offset`` (the session's accepted length). Returns the new length.

        All or nothing: the new length is returned only when the whole body was written and, with
        ``length``, when the body is exactly ``length`` bytes (reading stops at the first byte too
        many). On any failure the data file is cut back to ``offset`` before the error propagates, so
        the session holds exactly its accepted bytes and the caller records no new offset.

        The caller holds :meth:`exclusive` and has checked ``offset`` against the catalog.

        Raises:
            SizeInvalid: the body is longer or shorter than ``length``.
            TooLarge: the session would exceed ``max_upload_bytes``.
            DiskFull / StoreError: the disk refused.
        """
        f, hasher = await self._open_at(upload_id, offset)
        lanes = HashWriteLanes(hasher, f)
        chunks = aiter(body)
        try:
            size, tail = await self._receive(chunks, lanes, offset, length)
            await lanes.finish()
            if tail:
                await asyncio.to_thread(write_and_hash, f, hasher, tail)
            await asyncio.to_thread(close_appender, f)
        except BaseException:
            # The hasher has consumed part of this chunk: forget it (the prefix is re-hashed when
            # needed). Then close and cut the file back, waiting even through a cancellation: the
            # session lock must not be released while the file is longer than the accepted offset.
            self._hashers.pop(upload_id, None)
            await _run_to_completion(_abandon_chunk(chunks, lanes, f, self.path(upload_id), offset))
            raise
        self._remember(upload_id, size, hasher)
        return size

    async def _open_at(self, upload_id: str, offset: int) -> tuple[Appender, hashlib._Hash]:
        """Step 1 of :meth:`append`: an appender positioned at ``offset`` and the hash of the bytes
        before it.

        Raises:
            UploadNotFound: the data is held by another process (see :meth:`require_data`).
            UploadDataLost: the data file was already published as a blob, or is shorter than ``offset``.
            DiskFull / StoreError: the file cannot be opened.
        """
        self.require_data(upload_id, offset)
        path = self.path(upload_id)
        if is_published(path):
            raise UploadDataLost(
                "blob upload unknown to registry: its data was already stored as a blob; start the upload "
                "again (the blob is there)"
            )
        hasher = await self._hasher_at(upload_id, offset)
        f = await asyncio.to_thread(open_appender, path, offset)
        return f, hasher

    async def _receive(
        self,
        chunks: AsyncIterator[bytes | bytearray],
        lanes: HashWriteLanes,
        offset: int,
        length: int | None,
    ) -> tuple[int, list[bytes | bytearray]]:
        """Step 2 of :meth:`append`: read the body, handing it to ``lanes`` in batches of
        :data:`_FLUSH_AT` bytes. Returns the session's new length and the last batch, not yet handed
        over (shorter than :data:`_FLUSH_AT`; the caller writes it after ``lanes.finish()``).

        Raises:
            TooLarge / SizeInvalid: see :meth:`_check_size`; raised at the first byte too many.
        """
        size = offset
        pending: list[bytes | bytearray] = []
        pending_len = 0
        async for chunk in chunks:
            size += len(chunk)
            self._check_size(size, offset, length, complete=False)
            pending.append(chunk)
            pending_len += len(chunk)
            if pending_len >= _FLUSH_AT:
                await lanes.submit(pending)
                pending, pending_len = [], 0
        self._check_size(size, offset, length, complete=True)
        return size, pending

    def _check_size(self, size: int, offset: int, length: int | None, *, complete: bool) -> None:
        """Check the session's length ``size`` so far: while reading (``complete`` False) against the
        limit and the announced ``length``; once the body ended, that it is exactly ``length``.

        Raises:
            TooLarge: the session would exceed ``max_upload_bytes``.
            SizeInvalid: the body is longer than ``length`` (or, once complete, shorter).
        """
        end = None if length is None else offset + length
        if complete:
            if end is not None and size != end:
                raise SizeInvalid(
                    f"the body has {size - offset} bytes but its Content-Range announces {length}; "
                    "nothing of this chunk was kept"
                )
            return
        if self.max_upload_bytes is not None and size > self.max_upload_bytes:
            raise TooLarge(f"upload exceeds the limit of {self.max_upload_bytes} bytes")
        if end is not None and size > end:
            raise SizeInvalid(
                f"the body is longer than the {length} bytes its Content-Range announces; "
                "nothing of this chunk was kept"
            )

    async def cut_back(self, upload_id: str, offset: int) -> None:
        """Undo an :meth:`append` whose new offset could not be recorded: cut the data file back to
        ``offset`` and forget the running hash. Never raises (the next append and :meth:`seal` cut
        again). The caller holds :meth:`exclusive`."""
        self._hashers.pop(upload_id, None)
        path = self.path(upload_id)
        if not is_published(path):
            with contextlib.suppress(OSError):
                await asyncio.to_thread(os.truncate, path, offset)

    async def seal(self, upload_id: str, offset: int, algorithm: str = "sha256") -> str:
        """Make the data file exactly the session's first ``offset`` bytes and return their
        ``algorithm`` hash (hex): after this the file holds exactly the hashed bytes, so publishing it
        publishes nothing unhashed. The caller holds :meth:`exclusive`.

        sha256 comes from the running hash (kept in step with the accepted bytes, which the
        cross-process lock keeps anyone else from writing); any other algorithm (sha512), or a
        session held without that lock, re-reads the data once.

        Raises:
            UploadNotFound: the data is held by another process (see :meth:`require_data`).
            UploadDataLost: the file is shorter than ``offset`` (its data was lost).
            DiskFull / StoreError: the file cannot be cut back.
        """
        self.require_data(upload_id, offset)
        path = self.path(upload_id)
        await asyncio.to_thread(cut_to, path, offset)
        if algorithm != "sha256" or upload_id in self._without_flock:
            return (await asyncio.to_thread(rehash_prefix, path, offset, algorithm)).hexdigest()
        hasher = await self._hasher_at(upload_id, offset)
        self._remember(upload_id, offset, hasher)
        return hasher.copy().hexdigest()

    async def _hasher_at(self, upload_id: str, offset: int) -> hashlib._Hash:
        known = self._hashers.get(upload_id)
        if known is not None and known[0] == offset:
            return known[1]
        return await asyncio.to_thread(rehash_prefix, self.path(upload_id), offset)

    def _remember(self, upload_id: str, offset: int, hasher: hashlib._Hash) -> None:
        self._hashers[upload_id] = (offset, hasher)
        self._hashers.move_to_end(upload_id)
        while len(self._hashers) > _MAX_LIVE_HASHERS:
            self._hashers.popitem(last=False)


async def _abandon_chunk(
    chunks: AsyncIterator[bytes | bytearray], lanes: HashWriteLanes, f: Appender, path: Path, offset: int
) -> None:
    """Stop reading the body (a socket reader thread stops now, not when the generator is collected),
    stop both lanes, close the appender and cut ``path`` back to ``offset``. Never raises: a cut that
    fails is repeated by the next append and by :meth:`UploadSpool.seal`, which refuse to go on
    without it."""
    aclose = getattr(chunks, "aclose", None)
    if aclose is not None:
        with contextlib.suppress(Exception):
            await aclose()
    await lanes.abandon()
    await asyncio.to_thread(close_and_cut, f, path, offset)


async def _run_to_completion(work: Awaitable[None]) -> None:
    """Await ``work`` to its end even if this task is cancelled meanwhile; re-raise the cancellation
    afterwards."""
    task = asyncio.ensure_future(work)
    cancelled = False
    while not task.done():
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            if task.done():
                break
            cancelled = True
    if cancelled:
        raise asyncio.CancelledError
