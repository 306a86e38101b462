"""The DNS-rebinding guard, as Ollama's ``allowedHostsMiddleware`` does it.

Applies only when the server is bound to a loopback address (``localhost``, 127.0.0.0/8, ``::1``):
then a request's ``Host`` must be an IP literal that is loopback, private, link-local, unspecified,
the bound address or one of this machine's interface addresses, or the name ``localhost``, this machine's host name, or a name under
``.localhost``, ``.local`` or ``.internal``. Anything else (``Host: attacker.example`` reaching us
through a rebound DNS name) gets 403. Bound to any other address, every ``Host`` is allowed (the
server is deliberately exposed). A request without a ``Host`` header is allowed (HTTP/1.0).
"""

from __future__ import annotations

import socket
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.typedefs import Middleware

from registry.hosts.interface_addresses import is_interface_address
from registry.hosts.local_names import host_allowed, is_loopback_bind

__all__ = ["host_allowed", "host_guard_middleware", "is_loopback_bind"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def host_guard_middleware(bind_host: str) -> Middleware:
    """A middleware refusing (403) ``Host`` headers a loopback-bound server must not answer."""
    guarded = is_loopback_bind(bind_host)
    machine_name = socket.gethostname()

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if guarded:
            host = request.headers.get("Host", "")
            if not host_allowed(host, bind_host, machine_name, is_local_address=is_interface_address):
                return web.json_response(
                    {"error": f"host {host[:200]!r} is not allowed: this server answers only local names"},
                    status=403,
                )
        return await handler(request)

    return middleware
