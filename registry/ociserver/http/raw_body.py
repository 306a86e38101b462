"""Fast path for large upload bodies: read the rest of the body straight from the socket in a thread.

aiohttp hands a request body to Python in pieces of at most a few hundred KiB, each through the HTTP
parser, a ``StreamReader`` and an event-loop turn: for multi-GiB model blobs that bookkeeping, not
hashing or disk, limits throughput. For a plain-HTTP body with a known ``Content-Length`` above
:data:`RAW_THRESHOLD`, :class:`RequestBody` first yields what aiohttp already buffered, then pauses the
transport and reads exactly the remaining bytes from a duplicate of the socket in a worker thread
(``recv_into`` with a timeout; the GIL is released while waiting), in large pieces, one piece ahead
of the consumer.

Since the HTTP parser never sees those bytes, the connection cannot be reused: the route must close it
after responding (``detached`` tells it to). Everything else (chunked encoding, TLS, small bodies)
goes through aiohttp's normal reader.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor

from aiohttp import web

from registry.errors import SizeInvalid

__all__ = ["BODY_DETACHED", "RAW_THRESHOLD", "RequestBody"]

#: Set on a request whose body bypassed the HTTP parser: every response to it must close the connection.
BODY_DETACHED: web.RequestKey[bool] = web.RequestKey("registry_body_detached", bool)

#: Bodies at least this large take the socket fast path.
RAW_THRESHOLD = 16 << 20
_PIECE = 4 << 20
_RECV_TIMEOUT = 120.0


class RequestBody:
    """An async iterator over a request body; ``detached`` is True once the fast path was taken."""

    def __init__(self, request: web.Request, threads: ThreadPoolExecutor) -> None:
        self.request = request
        self.threads = threads  # for the fast path's blocking reads (a slow client holds one)
        self.detached = False

    def __aiter__(self) -> AsyncIterator[bytes | bytearray]:
        return self._chunks()

    def _fast_path_possible(self) -> bool:
        request = self.request
        transport = request.transport
        return (
            request.content_length is not None
            and request.content_length >= RAW_THRESHOLD
            and "chunked" not in request.headers.get("Transfer-Encoding", "").lower()
            and transport is not None
            and transport.get_extra_info("sslcontext") is None
            and transport.get_extra_info("socket") is not None
        )

    async def _chunks(self) -> AsyncIterator[bytes | bytearray]:
        content = self.request.content
        if not self._fast_path_possible():
            async for chunk in content.iter_any():
                yield chunk
            return
        transport = self.request.transport
        assert transport is not None and self.request.content_length is not None
        self.detached = True
        self.request[BODY_DETACHED] = True
        # Draining the reader may resume the transport; pausing right after, in the same event-loop
        # turn, guarantees no byte reaches the parser once ``remaining`` is computed.
        buffered = content.read_nowait(-1)
        transport.pause_reading()
        remaining = self.request.content_length - content.total_bytes
        if buffered:
            yield buffered
        raw = socket.socket(fileno=os.dup(transport.get_extra_info("socket").fileno()))
        raw.settimeout(_RECV_TIMEOUT)
        loop = asyncio.get_running_loop()

        def receive(left: int) -> asyncio.Future[bytearray] | None:
            if left <= 0:
                return None
            return loop.run_in_executor(self.threads, _recv_piece, raw, min(_PIECE, left))

        pending = receive(remaining)
        try:
            while pending is not None:
                piece = await pending
                remaining -= len(piece)
                pending = receive(remaining)  # the next piece arrives while this one is consumed
                yield piece
        finally:
            if pending is not None:  # the consumer stopped early: wake the reader thread and wait for it
                with contextlib.suppress(OSError):
                    raw.shutdown(socket.SHUT_RD)
                with contextlib.suppress(Exception):
                    await asyncio.shield(pending)
            raw.close()
            content.feed_eof()  # the parser never saw these bytes: mark the payload done (no lingering)


def _recv_piece(sock: socket.socket, size: int) -> bytearray:
    """Exactly ``size`` bytes from ``sock``. Raises SizeInvalid when the client stops early.

    The buffer itself is handed on, not copied into ``bytes``: that copy, with its fresh 4 MiB
    allocation per piece, cost about a quarter of the push throughput here (551-767 vs 729-820 MiB/s).
    """
    buf = bytearray(size)
    view = memoryview(buf)
    got = 0
    try:
        while got < size:
            n = sock.recv_into(view[got:])
            if n == 0:
                raise SizeInvalid(f"the request body ended {size - got} bytes early")
            got += n
    except TimeoutError as err:
        raise SizeInvalid("the client stopped sending the request body") from err
    view.release()
    return buf
