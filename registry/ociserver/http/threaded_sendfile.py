"""Whole-blob GETs of large local files: ``sendfile`` from a worker thread on a duplicate socket.

asyncio's ``loop.sendfile`` wakes the event loop for every socket-buffer's worth of data; with many
concurrent multi-GiB downloads on a busy machine those wake-ups, not the kernel, limit throughput. For
a plain-HTTP GET without ``Range`` of a file at least :data:`THRESHOLD` bytes, the headers go out
through aiohttp as usual, then the body is sent by ``socket.sendfile`` (zero-copy, GIL released) in a
worker thread, with a send timeout. The bytes on the wire are exactly the announced length, so the
connection stays reusable. A client that goes away makes the thread's send fail and the connection
is closed.
"""

from __future__ import annotations

import asyncio
import os
import socket
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from aiohttp import web

__all__ = ["THRESHOLD", "applicable", "send_whole_file"]

THRESHOLD = 16 << 20
_SEND_TIMEOUT = 120.0


def applicable(request: web.Request, size: int) -> bool:
    """True when the request may take the threaded path."""
    transport = request.transport
    return (
        request.method == "GET"
        and size >= THRESHOLD
        and "Range" not in request.headers
        and transport is not None
        and transport.get_extra_info("sslcontext") is None
        and transport.get_extra_info("socket") is not None
    )


async def send_whole_file(
    request: web.Request,
    path: Path,
    size: int,
    headers: dict[str, str],
    threads: ThreadPoolExecutor,
) -> web.StreamResponse:
    """Send ``path`` (``size`` bytes) as a 200 response. The caller checked :func:`applicable`.

    The send runs in ``threads``, a pool for long transfers (never the default executor: a slow
    client may hold a thread for minutes).

    Raises:
        FileNotFoundError: the file vanished before it was opened (nothing was sent).
    """
    f = open(path, "rb")  # noqa: SIM115 - closed below
    try:
        response = web.StreamResponse(status=200, headers=headers)
        response.content_length = size
        await response.prepare(request)
        transport = request.transport
        assert transport is not None
        while transport.get_write_buffer_size() > 0:  # let the headers leave first
            await asyncio.sleep(0.001)
        raw = socket.socket(fileno=os.dup(transport.get_extra_info("socket").fileno()))
        try:
            raw.settimeout(_SEND_TIMEOUT)
            sent = await asyncio.get_running_loop().run_in_executor(threads, raw.sendfile, f, 0, size)
        except OSError:
            response.force_close()
            transport.close()
            raise ConnectionResetError("client went away during a blob download") from None
        finally:
            raw.close()
        if sent != size:
            response.force_close()
            transport.close()
            raise ConnectionResetError("blob download cut short")
        await response.write_eof()
        return response
    finally:
        f.close()
