"""The parts of a resumable download: the plan, the state persisted in a partial blob, and the
``pwritev`` of a part's bytes. Pure bookkeeping over :class:`PartialBlob`; no network."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from registry.store.blobs import PartialBlob
from registry.store.blobs.oserrors import raise_store_error

__all__ = ["Part", "boot_id", "parts_from_state", "plan_parts", "write_chunks_at"]


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


def write_chunks_at(partial: PartialBlob, offset: int, chunks: list[bytes]) -> None:
    """``pwritev`` the chunks at ``offset`` (one syscall per block). Raises DiskFull / StoreError."""
    views = [memoryview(c) for c in chunks]
    try:
        while views:
            n = os.pwritev(partial.fd, views, offset)
            offset += n
            while views and n >= len(views[0]):
                n -= len(views[0])
                views.pop(0)
            if views and n:
                views[0] = views[0][n:]
    except OSError as err:
        raise_store_error(err, "writing a partial download")


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
