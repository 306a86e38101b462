"""Hash a blob in order while its parts land out of order, reading back only what must be.

The part at the hash cursor streams straight into the hash; bytes that land ahead of the cursor
(later parts) are written to disk and read back (from the page cache) once the cursor reaches them.
With one part in flight nothing is ever read twice; after a resume in a new process the prefix
already on disk is read once (hashlib state cannot be persisted). :class:`HashWorker` runs the
hasher on a dedicated thread fed in order by the download.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable

from registry.errors import DigestMismatch
from registry.oci.digest import Digest

__all__ = ["HashWorker", "OrderedHasher"]

_READ = 1 << 20


class OrderedHasher:
    """A hash (sha256 unless told) fed strictly in offset order. Thread-safe (feeds and catch-ups
    may race)."""

    def __init__(self, algorithm: str = "sha256") -> None:
        self._hash = hashlib.new(algorithm)
        self._algorithm = algorithm
        self._lock = threading.Lock()
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
        self, read_at: Callable[[int, int], bytes], max_blocks: int = 32, algorithm: str = "sha256"
    ) -> None:
        import queue

        self.hasher = OrderedHasher(algorithm)
        self._read_at = read_at
        self._queue: queue.SimpleQueue[tuple[str, int, list[bytes]] | None] = queue.SimpleQueue()
        self._slots = threading.Semaphore(max_blocks)
        self._error: BaseException | None = None
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
            try:
                if self._error is None and kind == "feed":
                    for chunk in chunks:
                        if not self.hasher.feed(offset, chunk):
                            break
                        offset += len(chunk)
                elif self._error is None:
                    self.hasher.catch_up(self._read_at, offset)
            except BaseException as err:  # reported by finish()
                self._error = err
            finally:
                if kind == "feed":
                    self._slots.release()
