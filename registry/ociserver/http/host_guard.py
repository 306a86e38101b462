"""The DNS-rebinding guard of a registry that serves without auth on loopback.

Such a registry trusts every local process, and so, through DNS rebinding, every web page a local
browser opens: a page on ``attacker.example`` whose name is rebound to 127.0.0.1 may send any
request (same origin: no CORS preflight) and push, overwrite or delete. So, while the registry is
bound to a loopback address with no ``[auth]`` and not ``allow_insecure_public``, a request whose
``Host`` is not a local name (``registry.hosts.local_names``) gets 403 ``DENIED``. With auth a page has
no credentials to send; on a public address the operator chose to be reachable by any name.
"""

from __future__ import annotations

import socket
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.typedefs import Middleware

from registry.errors import Denied
from registry.hosts.interface_addresses import is_interface_address
from registry.hosts.local_names import host_allowed, is_loopback_bind
from registry.ociserver.settings import ServerSettings

__all__ = ["host_guard_middleware", "needs_host_guard"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def needs_host_guard(settings: ServerSettings) -> bool:
    """Whether ``settings`` describe an unauthenticated registry bound to loopback."""
    return settings.auth is None and not settings.allow_insecure_public and is_loopback_bind(settings.host)


def host_guard_middleware(bind_host: str) -> Middleware:
    """A middleware (placed after the error middleware) refusing foreign ``Host`` names with 403."""
    machine_name = socket.gethostname()

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        host = request.headers.get("Host", "")
        if not host_allowed(host, bind_host, machine_name, is_local_address=is_interface_address):
            raise Denied(
                "this registry has no auth and answers only local host names "
                "(add an [auth] section to serve other names)"
            )
        return await handler(request)

    return middleware
