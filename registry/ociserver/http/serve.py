"""Run the registry application on a socket until SIGINT/SIGTERM (used by the CLI)."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from registry.ociserver.http.app import build_app
from registry.ociserver.settings import ServerSettings

__all__ = ["serve_forever"]

#: Socket read buffer per request: large uploads arrive in big pieces (fewer event-loop turns).
_READ_BUFSIZE = 4 << 20


async def serve_forever(settings: ServerSettings, say: Callable[[str], None]) -> None:
    """Serve until a signal arrives; ``say`` gets one line with the bound address (port 0 resolved)."""
    app = build_app(settings)
    runner = web.AppRunner(app, access_log=None, handle_signals=False, read_bufsize=_READ_BUFSIZE)
    await runner.setup()
    site = web.TCPSite(runner, settings.host, settings.port, backlog=1024)
    await site.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    server: Any = site._server
    addresses = [s.getsockname() for s in (server.sockets if server is not None else [])]
    host, port = addresses[0][0], addresses[0][1]
    shown = f"[{host}]" if ":" in host else host
    say(f"ollama-py registry listening on http://{shown}:{port} (root {settings.root}; {_summary(settings)})")
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def _summary(settings: ServerSettings) -> str:
    """What is on, for the start-up line: auth scheme and anonymous pull, mirror upstream, storage
    backend, database (its kind and host only: never a password)."""
    auth = settings.auth
    if auth is None:
        parts = ["auth off"]
    else:
        scheme = "bearer" if auth.bearer else "basic"
        if auth.token_server is not None:
            scheme = f"bearer from the token server {auth.token_server.realm}"
        parts = [f"auth {scheme}", f"anonymous pull {'on' if auth.anonymous_pull else 'off'}"]
    if settings.upstream:
        login = settings.upstream_credentials
        parts.append(f"mirror of {settings.upstream}" + (f" as {login.username}" if login else ""))
    parts.append(f"storage {settings.backend}")
    if settings.database_url:
        url = urlsplit(settings.database_url)
        kind = url.scheme.split("+")[0] or "database"
        parts.append(f"database {kind}" + (f" at {url.hostname}" if url.hostname else ""))
    else:
        parts.append("database sqlite")
    return ", ".join(parts)
