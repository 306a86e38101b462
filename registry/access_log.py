"""The access log of both servers (the registry's ``access_log``, the model server's
``OLLAMA_PY_ACCESS_LOG``): one line per request.

    2026-12-02T01:55:00Z 127.0.0.1 alice "GET /v2/team/m/manifests/v1" 200 1234 3.2ms

Fields: UTC time, client address, user (``-`` when anonymous, unidentified, or the server has no
users: the model server), method and path (never the query string, so a signed URL or token
parameter is not written; non-printable characters escaped), final status, response bytes (as
announced; 0 for HEAD; for a response streamed without a length, the bytes sent, its headers and
chunk framing included), and time spent in the handler (for a stream, its whole length). No header
is written, so neither credentials nor tokens ever reach the log.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TextIO

from aiohttp import web

__all__ = ["AccessLog", "UserOf"]

#: The user name a request was made as (None: anonymous); each server knows where it keeps it.
UserOf = Callable[[web.Request], str | None]


def _nobody(_request: web.Request) -> str | None:
    return None


class AccessLog:
    """Writes the access log to a file (appended, line-buffered) or to stderr (``-``); :meth:`close`."""

    def __init__(self, target: str, *, user_of: UserOf = _nobody) -> None:
        self._user_of = user_of
        self._owned = target != "-"
        # (kept open for the application's life; closed by close())
        self._out: TextIO = (
            Path(target).open("a", buffering=1, encoding="utf-8")  # noqa: SIM115
            if self._owned
            else sys.stderr
        )

    def close(self) -> None:
        """Close the file (stderr is left open)."""
        if self._owned:
            self._out.close()

    def middleware(self) -> Callable[..., Awaitable[web.StreamResponse]]:
        """An aiohttp middleware (outside the error middleware: it sees final statuses)."""

        @web.middleware
        async def log(
            request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
        ) -> web.StreamResponse:
            started = time.monotonic()
            status, size = 500, 0
            try:
                response = await handler(request)
                status = response.status
                if request.method != "HEAD":
                    size = response.content_length or response.body_length or 0
                return response
            except web.HTTPException as exc:
                status = exc.status
                raise
            finally:
                self._write(request, status, size, time.monotonic() - started)

        return log

    def _write(self, request: web.Request, status: int, size: int, seconds: float) -> None:
        user = self._user_of(request) or "-"
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        line = (
            f"{stamp} {request.remote or '-'} {_printable(user)} "
            f'"{request.method} {_printable(request.path)}" {status} {size} {seconds * 1000:.1f}ms\n'
        )
        try:
            self._out.write(line)
        except (OSError, ValueError):  # a full disk or a closed file must not fail the request
            pass


def _printable(text: str) -> str:
    """``text`` with quotes, spaces, backslashes and non-printable characters escaped (one field)."""
    if text.isprintable() and not any(c in text for c in ' "\\'):
        return text
    return "".join(c if c.isprintable() and c not in ' "\\' else f"\\x{ord(c):02x}" for c in text)
