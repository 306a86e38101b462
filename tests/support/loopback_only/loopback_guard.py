"""Loopback-only networking for the test session: a connection or a name lookup that would leave
this machine fails at once, naming the address.

Allowed: unix sockets (and every family but IPv4/IPv6); 127.0.0.0/8, ``::1`` (also IPv4-mapped) and
the unspecified addresses (``0.0.0.0``, ``::``: this host); this machine's own interface addresses
(:mod:`registry.hosts.interface_addresses`: nothing sent to them leaves the machine); the names
``localhost`` and this machine's host name (resolved from ``/etc/hosts``; ``*.localhost`` is not:
glibc asks the DNS server for it). Everything else is refused with
:class:`NonLoopbackConnection` (a ``RuntimeError``, not an ``OSError``, so no retry loop or
``except OSError`` takes it for a network failure), and recorded, one line, in the file named by
``OLLAMA_PY_TEST_NETWORK_LOG`` (read at each refusal), so ``tests/conftest.py`` fails the test even
where the error was caught.

Guarded: ``socket.socket.connect``/``connect_ex``/``sendto`` (so ``socket.create_connection``,
``ssl``, ``http.client``, urllib3/boto3 and asyncio's ``sock_connect``/``create_connection``, which
all connect through them) and the name lookups ``getaddrinfo``, ``gethostbyname(_ex)`` and
``gethostbyaddr``. Not guarded: sockets opened inside C libraries (libpq, c-ares), which the test
session points only at loopback servers.

This module imports only the standard library at start-up: ``sitecustomize.py`` beside it installs it
in every Python process the tests start (the session puts this directory on ``PYTHONPATH``).
"""

from __future__ import annotations

import contextlib
import functools
import ipaddress
import os
import socket
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = [
    "GUARD_DIR",
    "LOG_ENV",
    "NonLoopbackConnection",
    "install",
    "is_local_address",
    "is_local_name",
]

#: The directory to put on ``PYTHONPATH`` so that Python subprocesses install the guard too.
GUARD_DIR = Path(__file__).resolve().parent
#: The environment variable naming the file each refusal is appended to.
LOG_ENV = "OLLAMA_PY_TEST_NETWORK_LOG"

_MARK = "_loopback_guard_original"
_NET_FAMILIES = (socket.AF_INET, socket.AF_INET6)


class NonLoopbackConnection(RuntimeError):
    """A test (or a process it started) tried to reach beyond this machine."""


def _is_interface_address(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    try:  # imported on demand: a subprocess pays for it only when it meets a non-loopback address
        from registry.hosts.interface_addresses import is_interface_address
    except ImportError:
        return False
    return is_interface_address(address)


def is_local_address(text: str) -> bool:
    """True when ``text`` is a numeric IP address of this machine (see the module docstring)."""
    try:
        address = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback or address.is_unspecified or _is_interface_address(address)


def is_local_name(host: str | bytes | None) -> bool:
    """True for ``None`` (a passive lookup), local numeric addresses, ``localhost`` and this machine's
    host name (any case, a trailing dot ignored)."""
    if host is None:
        return True
    name = (host.decode("idna") if isinstance(host, bytes) else host).lower().rstrip(".")
    if name in ("", "localhost", socket.gethostname().lower()):
        return True
    return is_local_address(name.removeprefix("[").removesuffix("]"))


def _refuse(what: str, target: object) -> NonLoopbackConnection:
    message = (
        f"loopback-only test session: refused {what} {target!r} (allowed: 127.0.0.0/8, ::1, unix "
        "sockets, localhost and this machine's own addresses; see tests/support/loopback_only)"
    )
    log = os.environ.get(LOG_ENV)
    if log:
        with contextlib.suppress(OSError), open(log, "a", encoding="utf-8") as out:
            out.write(f"pid {os.getpid()} ({Path(sys.argv[0] or 'python').name}): {message}\n")
    return NonLoopbackConnection(message)


def _check_sockaddr(sock: socket.socket, address: Any, what: str) -> None:
    if sock.family in _NET_FAMILIES and isinstance(address, tuple) and address:
        if not is_local_name(address[0]):
            raise _refuse(what, address)


def _guard_method(original: Callable[..., Any], what: str) -> Callable[..., Any]:
    @functools.wraps(original)
    def guarded(self: socket.socket, *args: Any) -> Any:
        _check_sockaddr(self, args[-1] if args else None, what)
        return original(self, *args)

    setattr(guarded, _MARK, original)
    return guarded


def _guard_lookup(original: Callable[..., Any], what: str) -> Callable[..., Any]:
    @functools.wraps(original)
    def guarded(host: Any, *args: Any, **kwargs: Any) -> Any:
        if not is_local_name(host):
            raise _refuse(what, host)
        return original(host, *args, **kwargs)

    setattr(guarded, _MARK, original)
    return guarded


_METHODS = {"connect": "a connection to", "connect_ex": "a connection to", "sendto": "a datagram to"}
_LOOKUPS = {
    "getaddrinfo": "a name lookup of",
    "gethostbyname": "a name lookup of",
    "gethostbyname_ex": "a name lookup of",
    "gethostbyaddr": "a reverse lookup of",
}


def install() -> Callable[[], None]:
    """Guard this process's ``socket`` module; returns the undo (a no-op if it was guarded already)."""
    if hasattr(socket.socket.connect, _MARK):
        return lambda: None
    targets: list[tuple[Any, str, str, Callable[..., Any]]] = [
        (socket.socket, name, what, _guard_method) for name, what in _METHODS.items()
    ] + [(socket, name, what, _guard_lookup) for name, what in _LOOKUPS.items()]
    originals = [(owner, name, getattr(owner, name)) for owner, name, _, _ in targets]
    for owner, name, what, wrap in targets:
        setattr(owner, name, wrap(getattr(owner, name), what))

    def uninstall() -> None:
        for owner, name, original in originals:
            setattr(owner, name, original)

    return uninstall
