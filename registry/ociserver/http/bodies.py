"""Request-body and header parsing shared by the route modules: limits, Content-Range, pagination."""

from __future__ import annotations

import re
from urllib.parse import urlencode

from aiohttp import web

from registry.errors import InvalidInput, InvalidRange, TooLarge
from registry.ociserver.blobs import ChunkRange

__all__ = ["has_body", "page", "parse_chunk_range", "read_limited"]

_CHUNK_RANGE_RE = re.compile(r"(?:bytes[ =])?(\d{1,19})-(\d{1,19})")


def has_body(request: web.Request) -> bool:
    """True when the request announces (or streams) a non-empty body."""
    if request.content_length is not None:
        return request.content_length > 0
    return request.body_exists


async def read_limited(request: web.Request, limit: int) -> bytes:
    """The whole body, refusing more than ``limit`` bytes. Raises :class:`TooLarge` (413)."""
    if request.content_length is not None and request.content_length > limit:
        raise TooLarge(f"request body of {request.content_length} bytes exceeds the limit of {limit}")
    parts: list[bytes] = []
    total = 0
    async for chunk in request.content.iter_any():
        total += len(chunk)
        if total > limit:
            raise TooLarge(f"request body exceeds the limit of {limit} bytes")
        parts.append(chunk)
    return b"".join(parts)


def parse_chunk_range(value: str | None) -> ChunkRange | None:
    """``Content-Range: <start>-<end>`` of an upload chunk (inclusive), or None when absent.

    Raises:
        InvalidRange (416): malformed or end before start.
    """
    if value is None:
        return None
    match = _CHUNK_RANGE_RE.fullmatch(value.strip())
    if match is None:
        raise InvalidRange(f"invalid Content-Range {value[:80]!r}: expected <start>-<end>")
    start, end = int(match.group(1)), int(match.group(2))
    if end < start:
        raise InvalidRange(f"invalid Content-Range {value[:80]!r}: end before start")
    return ChunkRange(start, end)


def page(request: web.Request, items: list[str]) -> tuple[list[str], str | None]:
    """Apply ``n`` and ``last`` to a sorted list; returns the page and a ``Link`` header or None.

    Raises:
        InvalidInput: ``n`` is not a non-negative integer.
    """
    last = request.query.get("last")
    if last is not None:
        items = [i for i in items if i > last]
    n_text = request.query.get("n")
    if n_text is None:
        return items, None
    if not n_text.isdigit() or len(n_text) > 9:
        raise InvalidInput(f"invalid page size n={n_text[:20]!r}: expected a non-negative integer")
    n = int(n_text)
    if n == 0:
        return [], None
    if len(items) <= n:
        return items, None
    chosen = items[:n]
    query = urlencode({"n": n, "last": chosen[-1]})
    return chosen, f'<{request.path}?{query}>; rel="next"'
