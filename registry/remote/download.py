"""Resumable, parallel, verified download of one blob into the library.

Contract of :meth:`BlobDownload.run`:

- A blob already in the library is not fetched (returns False: a cache hit).
- Otherwise it takes the blob's transfer lock (``locks/<hex>.transfer``, see ``blob_lock``): a second
  pull of the same blob, in this process or another, waits, reports the holder's progress, and then
  finds the blob committed. Each byte crosses the network once.
- The blob is split into parts fetched with ``Range`` requests, ``parallel_parts`` at a time. Part
  progress is persisted in the partial's state (``PartialBlob``) every ``checkpoint_bytes``, so a
  pull killed with SIGKILL continues in a new process from the bytes already written. The state
  records the boot id: after a reboot only what was fdatasync'ed (``durable``) is trusted.
- Per part: retries with bounded exponential backoff; a counter of consecutive failed attempts that
  resets whenever an attempt made progress (a stall, i.e. no bytes for ``stall_timeout``, is a
  reconnect, not a failed pull). A 200 to a ranged request is a full body: the bytes before the
  part's position are skipped (never rewritten). A 206 at another offset is a protocol error.
- Bytes are hashed in order as they land (``OrderedHasher``); the final check needs no second
  full read. A mismatch discards the partial (:class:`DigestMismatch`, nothing committed).
  A full disk raises :class:`DiskFull` and keeps the partial for the next try.
- Blob GETs answered 307 go to the CDN without credentials; the CDN URL is reused for the other
  parts and forgotten after a failure. A plain 200 (no redirect) works too.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from registry.errors import BlobNotFound, TransferError
from registry.hosts.local_names import is_loopback_bind
from registry.oci.manifest import Descriptor
from registry.remote.blob_lock import blob_transfer_lock
from registry.remote.client import RegistryClient
from registry.remote.download_parts import Part, boot_id, parts_from_state, plan_parts, write_chunks_at
from registry.remote.pull_profile import PullProfile
from registry.remote.ratelimit import RateLimiter
from registry.remote.transport import ProtocolError, converted_errors, raise_for_status
from registry.remote.zero_copy import BodySplicer, SinkError, take_over
from registry.store.blobs import PartialBlob
from registry.store.blobs.hashing import HashWorker, OrderedHasher
from registry.store.blobs.oserrors import raise_store_error
from registry.store.library import Library

__all__ = ["BlobDownload"]

log = logging.getLogger(__name__)

_BLOCK = 512 * 1024
_WRITEBACK_EVERY = 16 << 20
#: Bytes one worker-thread call of the zero-copy path moves at most (then accounting, checkpoints,
#: progress and cancellation get their turn on the event loop).
_SPLICE_STEP = 8 << 20
#: A part with less than this left is read through aiohttp (a take-over costs a pipe and a thread).
_SPLICE_MIN = 256 * 1024


class BlobDownload:
    """Fetch one blob of ``client``'s repository into ``library``. One use."""

    def __init__(
        self,
        client: RegistryClient,
        library: Library,
        descriptor: Descriptor,
        limiter: RateLimiter,
        on_progress: Callable[[int], None],
    ) -> None:
        self.client = client
        self.library = library
        self.descriptor = descriptor
        self.options = client.transport.options
        self.limiter = limiter
        self.on_progress = on_progress
        self.parts: list[Part] = []
        self.hasher = OrderedHasher()
        self._hash_worker: HashWorker | None = None
        self._partial: PartialBlob | None = None
        self._direct_url: str | None = None
        self._unsaved = 0
        self._unsynced = 0
        self._side_tasks: set[asyncio.Task[None]] = set()
        self._catch_queued = 0
        self._last_done_parts = -1
        self._syncing = False
        self._saving = False
        self._state_lock = threading.Lock()
        self._boot_id = boot_id()
        self._advised = 0
        self._advising = False
        self.profile = PullProfile(size=descriptor.size)

    @property
    def digest(self) -> Any:
        """The blob's digest."""
        return self.descriptor.digest

    async def run(self) -> bool:
        """Ensure the blob is in the library. Returns False for a cache hit, True after a transfer.

        Raises: DigestMismatch, DiskFull, TransferError, Unauthorized, BlobNotFound.
        """
        if await asyncio.to_thread(self.library.has_blob, self.digest):
            return False
        lock = self.library.layout.locks_dir / f"{self.digest.hex}.transfer"
        async with blob_transfer_lock(lock, while_waiting=self._report_other_holder):
            if await asyncio.to_thread(self.library.has_blob, self.digest):
                return False
            await self._transfer()
        return True

    def _report_other_holder(self) -> None:
        """While another pull holds the lock, report its progress from its saved state."""
        try:
            doc = json.loads(self.library.layout.partial_state_path(self.digest).read_text())
            parts = parts_from_state(doc.get("state") or {}, self.descriptor.size) or []
        except (OSError, ValueError):
            return
        self.on_progress(sum(p.written for p in parts))

    async def _transfer(self) -> None:
        started = time.perf_counter()
        partial = self.library.partial(self.digest, self.descriptor.size)
        state = await asyncio.to_thread(partial.open)
        self._partial = partial
        try:
            parts = parts_from_state(state, self.descriptor.size)
            if parts is None or not any(p.written for p in parts):
                await self._check_size()
                parts = plan_parts(self.descriptor.size, self.options.part_size)
            self.parts = parts
            self._hash_worker = HashWorker(partial.read_at, read_fd=partial.fd)
            self.hasher = self._hash_worker.hasher
            self._save_state()
            self.on_progress(self.completed)
            self.profile.parts = sum(1 for p in parts if not p.done)
            await self._run_parts()
            await self._drain_side_tasks()
            assert self._hash_worker is not None
            mark = time.perf_counter()
            digest = await asyncio.to_thread(self._hash_worker.finish, self.descriptor.size)
            self.profile.final_hash = time.perf_counter() - mark
            self.profile.hash = self._hash_worker.busy
            mark = time.perf_counter()
            await asyncio.to_thread(self.library.commit_partial, partial, digest)
            self.profile.commit = time.perf_counter() - mark
            self.profile.total = time.perf_counter() - started
            log.debug("pull %s: %s", self.digest.short, self.profile.summary())
        except BaseException:
            if self._hash_worker is not None:
                await asyncio.to_thread(self._hash_worker.stop)
            await self._drain_side_tasks()
            if partial.path.exists():
                self._save_state()
            partial.close()
            raise

    @property
    def completed(self) -> int:
        """Bytes of the blob on disk."""
        return sum(p.written for p in self.parts)

    async def _check_size(self) -> None:
        size = await self.client.blob_size(self.digest)
        if size is None:
            raise BlobNotFound(f"pull blob {self.digest}: the registry does not have it")
        if size != self.descriptor.size:
            raise ProtocolError(
                f"blob {self.digest.short}: the registry reports {size} bytes, "
                f"the manifest {self.descriptor.size}"
            )

    async def _run_parts(self) -> None:
        """Fetch the missing parts: one stream first, more only if one stream is slow (see
        ``TransferOptions.fast_stream``)."""
        semaphore = asyncio.Semaphore(1)
        tasks = [asyncio.create_task(self._run_part(p, semaphore)) for p in self.parts if not p.done]
        if not tasks:
            return
        extra = max(1, self.options.parallel_parts) - 1
        ramp = asyncio.create_task(self._ramp_up(semaphore, extra)) if extra and len(tasks) > 1 else None
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        finally:  # also when we are cancelled: no part may outlive its download
            for task in [*tasks, *([ramp] if ramp else [])]:
                task.cancel()
            await asyncio.gather(*tasks, *([ramp] if ramp else []), return_exceptions=True)
        for task in done:
            if not task.cancelled() and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]

    async def _ramp_up(self, semaphore: asyncio.Semaphore, extra: int) -> None:
        """After ``ramp_after`` seconds, open ``extra`` more streams if one stream moved fewer than
        ``fast_stream`` bytes per second, and the bytes do not come from this machine (see
        ``TransferOptions.widen_on_loopback``). Measured on loopback: one stream is fastest there
        (parallel parts must be read back for the in-order hash, and the CPU is the limit, the more
        so on a busy machine, where one stream is slow for want of CPU); over real networks one TCP
        stream is usually the limit and parallel parts multiply it."""
        before = self.completed
        await asyncio.sleep(self.options.ramp_after)
        rate = (self.completed - before) / self.options.ramp_after
        host = urlsplit(self._direct_url or self.client.blob_url(self.digest)).hostname or ""
        if rate < self.options.fast_stream and (self.options.widen_on_loopback or not is_loopback_bind(host)):
            self.profile.streams += extra
            for _ in range(extra):
                semaphore.release()

    async def _run_part(self, part: Part, semaphore: asyncio.Semaphore) -> None:
        async with semaphore:
            failures = 0
            while not part.done:
                before = part.written
                try:
                    await self._fetch_part(part)
                except ProtocolError:
                    raise
                except TransferError as err:
                    self._direct_url = None
                    failures = 1 if part.written > before else failures + 1
                    if failures > self.options.max_retries:
                        raise TransferError(
                            f"pulling {self.digest.short}: max retries exceeded: {err}"
                        ) from err
                    delay = min(self.options.backoff_max, self.options.backoff_base * 2 ** (failures - 1))
                    await asyncio.sleep(delay)

    async def _fetch_part(self, part: Part) -> None:
        url = self._direct_url or self.client.blob_url(self.digest)
        headers = {"Range": f"bytes={part.pos}-{part.end - 1}"}
        async with self.client.transport.request(
            "GET", url, scope=self.client.scope, headers=headers
        ) as resp:
            skip = self._check_response(resp, part, url)
            if resp.status not in (200, 206):
                if resp.status in (408, 429) or resp.status >= 500 or url == self._direct_url:
                    raise TransferError(f"pulling {self.digest.short}: {resp.status} {resp.reason}")
                if resp.status == 404:
                    raise BlobNotFound(f"pull blob {self.digest}: the registry does not have it")
                await raise_for_status(resp, f"pulling {self.digest.short}")
                raise TransferError(f"pulling {self.digest.short}: unexpected status {resp.status}")
            if str(resp.url) != self.client.blob_url(self.digest):
                self._direct_url = str(resp.url)
            await self._stream_into(part, resp, skip)

    def _check_response(self, resp: aiohttp.ClientResponse, part: Part, url: str) -> int:
        """Bytes to skip at the start of the body; raises ProtocolError for a misplaced 206."""
        if resp.status == 200:
            return part.pos
        if resp.status != 206:
            return 0
        content_range = resp.headers.get("Content-Range", "")
        try:
            unit, _, rest = content_range.partition(" ")
            start = int(rest.split("-", 1)[0])
        except ValueError:
            raise ProtocolError(f"pulling {self.digest.short}: bad Content-Range {content_range!r}") from None
        if unit != "bytes" or start != part.pos:
            raise ProtocolError(
                f"pulling {self.digest.short}: asked for bytes from {part.pos}, the registry sent "
                f"{content_range!r}"
            )
        return 0

    def _splicer_for(self, part: Part, resp: aiohttp.ClientResponse, skip: int) -> BodySplicer | None:
        """The zero-copy path for this body (see :mod:`registry.remote.zero_copy`), or None: turned off,
        a rate limit (it counts bytes on the event loop), bytes to skip, a short part, or a body that
        cannot be spliced (TLS, chunked, compressed)."""
        if not self.options.zero_copy or self.limiter.rate is not None or skip:
            return None
        if part.end - part.pos < _SPLICE_MIN or (resp.content_length or 0) < part.end - part.pos:
            return None
        return take_over(resp, self.options.stall_timeout)

    async def _splice_into(self, part: Part, resp: aiohttp.ClientResponse, splicer: BodySplicer) -> None:
        """Move the part's bytes from the socket into the partial file in the kernel, a step at a time
        on a worker thread; account for each step on the event loop and queue the hash's read-back
        (from the page cache) for what lies at the hash cursor."""
        partial = self._partial
        assert partial is not None
        loop = asyncio.get_running_loop()
        what = f"pulling {self.digest.short}"
        try:
            head = splicer.buffered[: part.end - part.pos]
            if head:
                await self._write(part, [head], len(head))
            self.profile.zero_copy = True
            while not part.done:
                mark = time.perf_counter()
                step = loop.run_in_executor(
                    None, splicer.move, partial.fd, part.pos, min(_SPLICE_STEP, part.end - part.pos)
                )
                try:
                    moved = await asyncio.shield(step)
                except asyncio.CancelledError:
                    splicer.abort()  # the thread still uses the socket and the pipe: let it return first
                    await asyncio.wait([step])
                    raise
                except SinkError as err:
                    assert isinstance(err.__cause__, OSError)
                    raise_store_error(err.__cause__, "writing a partial download")
                except TimeoutError:
                    raise TransferError(f"{what}: no data received before the stall timeout") from None
                except OSError as err:
                    raise TransferError(f"{what}: {err}") from err
                self.profile.receive += time.perf_counter() - mark
                if not moved:
                    raise TransferError(f"{what}: connection closed at byte {part.pos}")
                self._account(part, moved)
                if self._frontier() >= part.pos:  # everything below this part's end is on disk
                    assert self._hash_worker is not None
                    self._hash_worker.catch_up(self._frontier())
        finally:
            splicer.close()
            resp.close()  # the connection was taken over: never back to the pool

    async def _stream_into(self, part: Part, resp: aiohttp.ClientResponse, skip: int) -> None:
        """Through :meth:`_splice_into` when the body can be spliced, else: read the body in blocks of chunks; write each block as it fills and queue it for the hash
        thread. The write stays on the event loop (measured: handing every write to a thread pool
        costs more in GIL handoffs than it overlaps); hashing runs on one dedicated thread that is
        fed without waiting (``HashWorker``), so it overlaps receiving and writing."""
        splicer = self._splicer_for(part, resp, skip)
        if splicer is not None:
            await self._splice_into(part, resp, splicer)
            return
        block: list[bytes] = []
        block_len = 0
        async with converted_errors(f"pulling {self.digest.short}"):
            profile = self.profile
            while part.pos + block_len < part.end:
                mark = time.perf_counter()
                chunk = await resp.content.readany()
                profile.receive += time.perf_counter() - mark
                if not chunk:
                    break
                if skip:
                    if len(chunk) <= skip:
                        skip -= len(chunk)
                        continue
                    chunk, skip = chunk[skip:], 0
                room = part.end - part.pos - block_len
                if len(chunk) > room:
                    chunk = chunk[:room]  # slicing copies: only when the body runs past the part
                block.append(chunk)
                block_len += len(chunk)
                if block_len >= _BLOCK:
                    await self._write(part, block, block_len)
                    block, block_len = [], 0
        if block:
            await self._write(part, block, block_len)
        if not part.done:
            raise TransferError(f"pulling {self.digest.short}: connection closed at byte {part.pos}")
        resp.close()  # a 200 body (or an over-long one) may still be flowing: do not reuse it

    async def _write(self, part: Part, chunks: list[bytes], length: int) -> None:
        """Write and hash one block at the part's position, then account for it."""
        await self.limiter.consume(length)
        partial = self._partial
        assert partial is not None
        offset = part.pos
        mark = time.perf_counter()
        write_chunks_at(partial, offset, chunks)
        self.profile.write += time.perf_counter() - mark
        worker = self._hash_worker
        assert worker is not None
        if not worker.try_feed(offset, chunks):
            mark = time.perf_counter()
            await asyncio.to_thread(worker.wait_for_room)
            self.profile.hash_wait += time.perf_counter() - mark
            # If another part took the slot meanwhile these bytes are not queued: they are read
            # back from disk when the hash cursor gets here.
            worker.try_feed(offset, chunks)
        self._account(part, length)

    def _account(self, part: Part, length: int) -> None:
        """``length`` more bytes of ``part`` are in the partial file: progress, checkpoints, fsyncs."""
        part.written += length
        self._unsaved += length
        self._unsynced += length
        if self._unsaved >= self.options.checkpoint_bytes and not self._saving:
            self._saving = True
            self._spawn(self._save_state_in_thread())
        self._maybe_start_side_tasks()
        self.on_progress(self.completed)

    def _frontier(self) -> int:
        for p in self.parts:
            if not p.done:
                return p.pos
        return self.descriptor.size

    def _maybe_start_side_tasks(self) -> None:
        partial = self._partial
        assert partial is not None
        frontier = self._frontier()
        if frontier > self._catch_queued and self.hasher.cursor < frontier and self._hash_worker is not None:
            if self._last_done_parts != self._done_parts():  # a lower part ended: read the next one's prefix
                self._catch_queued = frontier
                self._last_done_parts = self._done_parts()
                self._hash_worker.catch_up(frontier)
        if not self._syncing and self._unsynced >= self.options.sync_bytes:
            self._syncing = True
            self._spawn(self._sync(partial))
        cursor = self.hasher.cursor
        if cursor - self._advised >= _WRITEBACK_EVERY and not self._advising:
            # Hashed bytes are never read again: start their writeback now (so the final fsync has
            # little left) and let the kernel drop them from the page cache (memory stays flat).
            # In a thread: starting writeback can block for a while, the event loop must not.
            self._advising = True
            self._spawn(self._advise(partial, self._advised, cursor))
            self._advised = cursor

    async def _advise(self, partial: PartialBlob, start: int, end: int) -> None:
        try:
            await asyncio.to_thread(os.posix_fadvise, partial.fd, start, end - start, os.POSIX_FADV_DONTNEED)
        finally:
            self._advising = False

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._side_tasks.add(task)
        task.add_done_callback(self._side_tasks.discard)

    def _done_parts(self) -> int:
        return sum(1 for p in self.parts if p.done)

    async def _sync(self, partial: PartialBlob) -> None:
        try:
            snapshot = [p.written for p in self.parts]
            self._unsynced = 0
            mark = time.perf_counter()
            await asyncio.to_thread(partial.sync)
            self.profile.sync += time.perf_counter() - mark
            for p, written in zip(self.parts, snapshot, strict=True):
                p.durable = max(p.durable, written)
            self._save_state()
        finally:
            self._syncing = False

    async def _drain_side_tasks(self) -> None:
        while self._side_tasks:
            await asyncio.gather(*list(self._side_tasks), return_exceptions=True)

    async def _save_state_in_thread(self) -> None:
        try:
            await asyncio.to_thread(self._save_state)
        finally:
            self._saving = False

    def _save_state(self) -> None:
        """Persist part progress (the data is in the page cache already: SIGKILL-safe)."""
        partial = self._partial
        if partial is None or not self.parts:
            return
        self._unsaved = 0
        state = {
            "boot_id": self._boot_id,
            "parts": [[p.start, p.size, p.written, p.durable] for p in self.parts],
        }
        with self._state_lock:
            partial.save_state(state)
