"""The DNS-rebinding guard, as Ollama's ``allowedHostsMiddleware`` does it.

Applies only when the server is bound to a loopback address (``localhost``, 127.0.0.0/8, ``::1``):
then a request's ``Host`` must be an IP literal that is loopback, private, link-local, unspecified
or the bound address, or the name ``localhost``, this machine's host name, or a name under
``.localhost``, ``.local`` or ``.internal``. Anything else (``Host: attacker.example`` reaching us
through a rebound DNS name) gets 403. Bound to any other address, every ``Host`` is allowed (the
server is deliberately exposed). A request without a ``Host`` header is allowed (HTTP/1.0).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.typedefs import Middleware

__all__ = ["host_allowed", "host_guard_middleware", "is_loopback_bind"]

_LOCAL_SUFFIXES = (".localhost", ".local", ".internal")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def is_loopback_bind(bind_host: str) -> bool:
    """Whether listening on ``bind_host`` only accepts loopback connections."""
    name = bind_host.strip("[]").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name.split("%", 1)[0]).is_loopback
    except ValueError:
        return False  # a host name: resolved by the listener to some interface, so treated as public


def host_allowed(host_header: str, bind_host: str, machine_name: str) -> bool:
    """Whether ``host_header`` (``name[:port]``, ``[v6][:port]``) may reach a loopback-bound server."""
    host = _strip_port(host_header).lower()
    if not host or host in ("localhost", machine_name.lower()):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host.endswith(_LOCAL_SUFFIXES)
    if address.is_loopback or address.is_private or address.is_unspecified or address.is_link_local:
        return True
    return host == bind_host.strip("[]").lower()


def host_guard_middleware(bind_host: str) -> Middleware:
    """A middleware refusing (403) ``Host`` headers a loopback-bound server must not answer."""
    guarded = is_loopback_bind(bind_host)
    machine_name = socket.gethostname()

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if guarded:
            host = request.headers.get("Host", "")
            if not host_allowed(host, bind_host, machine_name):
                return web.json_response(
                    {"error": f"host {host[:200]!r} is not allowed: this server answers only local names"},
                    status=403,
                )
        return await handler(request)

    return middleware


def _strip_port(host: str) -> str:
    host = host.strip()
    if host.startswith("["):
        end = host.find("]")
        return host[1:end] if end > 0 else host
    if host.count(":") == 1:
        return host.partition(":")[0]
    return host  # a bare IPv6 address or a name
