"""Which ``Host`` headers a server bound to loopback may answer (the DNS-rebinding rule, as
Ollama's ``allowedHostsMiddleware``). Pure; shared by the model server and the registry server.

When a server is bound to a loopback address (``localhost``, 127.0.0.0/8, ``::1``), a request's
``Host`` must be an IP literal that is loopback, private, link-local, unspecified or the bound
address or an address of this machine's own interfaces (Ollama's ``isLocalIP``: a reverse proxy
on this machine that keeps ``Host``), or the name ``localhost``, this machine's host name, or a
name under ``.localhost``, ``.local`` or ``.internal``. Anything else (``Host: attacker.example``
reaching us through a rebound DNS name) is refused. A request without a ``Host`` header is allowed (HTTP/1.0).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

__all__ = ["host_allowed", "is_loopback_bind"]

_LOCAL_SUFFIXES = (".localhost", ".local", ".internal")


def is_loopback_bind(bind_host: str) -> bool:
    """Whether listening on ``bind_host`` only accepts loopback connections."""
    name = bind_host.strip("[]").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name.split("%", 1)[0]).is_loopback
    except ValueError:
        return False  # a host name: resolved by the listener to some interface, so treated as public


def _no_address(_address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return False


def host_allowed(
    host_header: str,
    bind_host: str,
    machine_name: str,
    *,
    is_local_address: Callable[[ipaddress.IPv4Address | ipaddress.IPv6Address], bool] = _no_address,
) -> bool:
    """Whether ``host_header`` (``name[:port]``, ``[v6][:port]``) may reach a loopback-bound server.
    ``is_local_address`` tells whether an address is one of this machine's (asked only for an
    address no other rule allows, e.g. :func:`registry.hosts.interface_addresses.interface_addresses`)."""
    host = _strip_port(host_header).lower()
    if not host or host in ("localhost", machine_name.lower()):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host.endswith(_LOCAL_SUFFIXES)
    if address.is_loopback or address.is_private or address.is_unspecified or address.is_link_local:
        return True
    return host == bind_host.strip("[]").lower() or is_local_address(address)


def _strip_port(host: str) -> str:
    host = host.strip()
    if host.startswith("["):
        end = host.find("]")
        return host[1:end] if end > 0 else host
    if host.count(":") == 1:
        return host.partition(":")[0]
    return host  # a bare IPv6 address or a name
