"""This machine's own IP addresses (Ollama's ``isLocalIP``: every address of every interface).

Read from Linux's ``/proc/net/fib_trie`` (IPv4: each address marked ``/32 host LOCAL``) and
``/proc/net/if_inet6`` (IPv6: the first column of each line); elsewhere, or when those cannot be
read, the addresses this machine's host name resolves to. Read on each call (interfaces come and
go); the files are small and in memory.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
from pathlib import Path

__all__ = ["IPAddress", "interface_addresses", "is_interface_address"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def _fib_trie_locals(text: str) -> set[IPAddress]:
    out: set[IPAddress] = set()
    candidate = ""
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("|-- "):
            candidate = stripped[4:]
        elif stripped.startswith("/32 host LOCAL") and candidate:
            with contextlib.suppress(ValueError):
                out.add(ipaddress.IPv4Address(candidate))
    return out


def _if_inet6_addresses(text: str) -> set[IPAddress]:
    out: set[IPAddress] = set()
    for line in text.splitlines():
        fields = line.split()
        if fields and len(fields[0]) == 32:
            with contextlib.suppress(ValueError):
                out.add(ipaddress.IPv6Address(bytes.fromhex(fields[0])))
    return out


def _resolved_addresses() -> set[IPAddress]:
    out: set[IPAddress] = set()
    with contextlib.suppress(OSError, UnicodeError):
        for *_, sockaddr in socket.getaddrinfo(socket.gethostname(), None):
            with contextlib.suppress(ValueError):
                out.add(ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0]))
    return out


def interface_addresses(
    *, fib_trie: Path = Path("/proc/net/fib_trie"), if_inet6: Path = Path("/proc/net/if_inet6")
) -> frozenset[IPAddress]:
    """The IP addresses of this machine's interfaces (see the module docstring)."""
    found: set[IPAddress] = set()
    read_any = False
    for path, parse in ((fib_trie, _fib_trie_locals), (if_inet6, _if_inet6_addresses)):
        with contextlib.suppress(OSError, UnicodeDecodeError):
            found |= parse(path.read_text())
            read_any = True
    if not read_any:
        found = _resolved_addresses()
    return frozenset(found)


def is_interface_address(address: IPAddress) -> bool:
    """True when ``address`` is one of this machine's own (see :func:`interface_addresses`)."""
    return address in interface_addresses()
