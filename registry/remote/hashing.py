"""Hash a blob in order while its parts land out of order, reading back only what must be.

The part at the hash cursor streams straight into the hash; bytes that land ahead of the cursor
(later parts) are written to disk and read back (from the page cache) once the cursor reaches them.
With one part in flight nothing is ever read twice; after a resume in a new process the prefix
already on disk is read once (hashlib state cannot be persisted).
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable

from registry.oci.digest import Digest

__all__ = ["OrderedHasher"]

_READ = 1 << 20


class OrderedHasher:
    """A sha256 fed strictly in offset order. Thread-safe (feeds and catch-ups may race)."""

    def __init__(self) -> None:
        self._hash = hashlib.sha256()
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
            return Digest(self._hash.hexdigest())
