"""``Range: bytes=...`` for blob GETs served from a non-local backend (local files use FileResponse).

One range only (as every registry client sends); multi-range requests are served whole (RFC 9110
allows ignoring Range).
"""

from __future__ import annotations

import re

from registry.errors import InvalidRange

__all__ = ["RangeNotSatisfiable", "parse_byte_range"]

_RANGE_RE = re.compile(r"bytes=([0-9]{0,19})-([0-9]{0,19})")  # longer numbers: no range


class RangeNotSatisfiable(InvalidRange):
    """416 with ``Content-Range: bytes */<size>``."""

    def __init__(self, size: int) -> None:
        super().__init__(f"requested range not satisfiable (blob has {size} bytes)")
        self.headers = {"Content-Range": f"bytes */{size}"}


def parse_byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """``(start, end_exclusive)`` for a single byte range, or None to serve the whole blob.

    Raises:
        RangeNotSatisfiable: the range lies outside the blob or ends before it starts.
    """
    if not header:
        return None
    match = _RANGE_RE.fullmatch(header.strip())
    if match is None:
        return None
    first, last = match.group(1), match.group(2)
    if not first and not last:
        return None
    if not first:
        suffix = int(last)
        if suffix == 0:
            raise RangeNotSatisfiable(size)
        return max(size - suffix, 0), size
    start = int(first)
    end = int(last) + 1 if last else size
    if start >= size or end <= start:
        raise RangeNotSatisfiable(size)
    return start, min(end, size)
