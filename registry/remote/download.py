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
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import aiohttp

from registry.blobstore import PartialBlob
from registry.errors import BlobNotFound, TransferError
from registry.library import Library
from registry.oci.manifest import Descriptor
from registry.remote.blob_lock import blob_transfer_lock
from registry.remote.client import RegistryClient
from registry.remote.hashing import OrderedHasher
from registry.remote.ratelimit import RateLimiter
from registry.remote.transport import ProtocolError, converted_errors, raise_for_status

__all__ = ["BlobDownload", "Part", "plan_parts"]

_BLOCK = 256 * 1024


@dataclass(slots=True)
class Part:
    """``[start, start + size)`` of the blob; ``written`` bytes of it are on disk."""

    start: int
    size: int
    written: int = 0
    durable: int = 0

    @property
    def pos(self) -> int:
        """The next offset to fetch."""
        return self.start + self.written

    @property
    def end(self) -> int:
        """One past the part's last byte."""
        return self.start + self.size

    @property
    def done(self) -> bool:
        """All bytes written."""
        return self.written >= self.size


def plan_parts(size: int, part_size: int) -> list[Part]:
    """Split ``size`` bytes into parts of ``part_size`` (the last takes the remainder)."""
    return [Part(start, min(part_size, size - start)) for start in range(0, size, max(1, part_size))]


def boot_id() -> str:
    """This boot's id (Linux); page-cache data survives a SIGKILL but not a reboot."""
    try:
        with open("/proc/sys/kernel/random/boot_id") as f:
            return f.read().strip()
    except OSError:
        return ""


def parts_from_state(state: dict[str, Any], size: int) -> list[Part] | None:
    """Rebuild parts from a persisted state; None when it does not describe ``size`` bytes."""
    raw = state.get("parts")
    if not isinstance(raw, list):
        return None
    same_boot = state.get("boot_id") == boot_id()
    parts: list[Part] = []
    expected_start = 0
    for item in raw:
        if not (isinstance(item, list) and len(item) == 4 and all(isinstance(v, int) for v in item)):
            return None
        start, psize, written, durable = item
        if start != expected_start or not 0 <= durable <= written <= psize:
            return None
        parts.append(Part(start, psize, written if same_boot else durable, durable))
        expected_start = start + psize
    return parts if expected_start == size else None


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
        self._partial: PartialBlob | None = None
        self._direct_url: str | None = None
        self._unsaved = 0
        self._unsynced = 0
        self._side_tasks: set[asyncio.Task[None]] = set()
        self._catching_up = False
        self._syncing = False

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
        partial = self.library.partial(self.digest, self.descriptor.size)
        state = await asyncio.to_thread(partial.open)
        self._partial = partial
        try:
            parts = parts_from_state(state, self.descriptor.size)
            if parts is None or not any(p.written for p in parts):
                await self._check_size()
                parts = plan_parts(self.descriptor.size, self.options.part_size)
            self.parts = parts
            self._save_state()
            self.on_progress(self.completed)
            await self._run_parts()
            await self._drain_side_tasks()
            await asyncio.to_thread(self.hasher.catch_up, partial.read_at, self.descriptor.size)
            digest = self.hasher.digest()
            await asyncio.to_thread(self.library.commit_partial, partial, digest)
        except BaseException:
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
        semaphore = asyncio.Semaphore(max(1, self.options.parallel_parts))
        tasks = [asyncio.create_task(self._run_part(p, semaphore)) for p in self.parts if not p.done]
        if not tasks:
            return
        done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        for task in done:
            if not task.cancelled() and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]

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

    async def _stream_into(self, part: Part, resp: aiohttp.ClientResponse, skip: int) -> None:
        buf = bytearray()
        async with converted_errors(f"pulling {self.digest.short}"):
            while part.pos + len(buf) < part.end:
                chunk = await resp.content.readany()
                if not chunk:
                    break
                if skip:
                    if len(chunk) <= skip:
                        skip -= len(chunk)
                        continue
                    chunk, skip = chunk[skip:], 0
                buf += chunk
                if len(buf) >= _BLOCK:
                    await self._write(part, buf)
                    buf = bytearray()
        if buf:
            await self._write(part, buf)
        if not part.done:
            raise TransferError(f"pulling {self.digest.short}: connection closed at byte {part.pos}")
        resp.close()  # a 200 body (or an over-long one) may still be flowing: do not reuse it

    async def _write(self, part: Part, data: bytearray) -> None:
        data = data[: part.end - part.pos]
        await self.limiter.consume(len(data))
        offset = part.pos
        partial = self._partial
        assert partial is not None

        def write() -> None:
            partial.write_at(offset, data)
            self.hasher.feed(offset, data)

        await asyncio.to_thread(write)
        part.written += len(data)
        self._unsaved += len(data)
        self._unsynced += len(data)
        if self._unsaved >= self.options.checkpoint_bytes:
            self._save_state()
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
        if not self._catching_up and self.hasher.cursor < self._frontier():
            self._catching_up = True
            self._spawn(self._catch_up(partial))
        if not self._syncing and self._unsynced >= self.options.sync_bytes:
            self._syncing = True
            self._spawn(self._sync(partial))

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._side_tasks.add(task)
        task.add_done_callback(self._side_tasks.discard)

    async def _catch_up(self, partial: PartialBlob) -> None:
        try:
            await asyncio.to_thread(self.hasher.catch_up, partial.read_at, self._frontier())
        finally:
            self._catching_up = False

    async def _sync(self, partial: PartialBlob) -> None:
        try:
            snapshot = [p.written for p in self.parts]
            self._unsynced = 0
            await asyncio.to_thread(partial.sync)
            for p, written in zip(self.parts, snapshot, strict=True):
                p.durable = max(p.durable, written)
            self._save_state()
        finally:
            self._syncing = False

    async def _drain_side_tasks(self) -> None:
        while self._side_tasks:
            await asyncio.gather(*list(self._side_tasks), return_exceptions=True)

    def _save_state(self) -> None:
        """Persist part progress (the data is in the page cache already: SIGKILL-safe)."""
        partial = self._partial
        if partial is None or not self.parts:
            return
        self._unsaved = 0
        partial.save_state(
            {"boot_id": boot_id(), "parts": [[p.start, p.size, p.written, p.durable] for p in self.parts]}
        )
