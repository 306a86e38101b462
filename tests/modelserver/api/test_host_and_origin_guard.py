"""DNS rebinding (the ``Host`` header) and ``Origin`` matching on the real model server."""

from __future__ import annotations

import socket
from typing import Any

import aiohttp
import pytest

from registry.config import HostAddress
from registry.store.library import Library

#: Host headers a loopback-bound server answers (as Ollama's allowedHostsMiddleware does).
LOCAL_HOSTS = (
    "localhost",
    "localhost:11434",
    "LOCALHOST:1",
    "127.0.0.1",
    "127.0.0.1:11434",
    "127.1.2.3:80",
    "[::1]:11434",
    "[::1]",
    "0.0.0.0:11434",
    "10.1.2.3:11434",
    "192.168.1.5",
    "app.localhost:11434",
    "printer.local",
    "host.docker.internal:11434",
    socket.gethostname(),
)

#: Host headers a loopback-bound server refuses: names an attacker's DNS could point at us.
FOREIGN_HOSTS = (
    "attacker.example",
    "attacker.example:11434",
    "localhost.attacker.example",
    "127.0.0.1.attacker.example",
    "8.8.8.8",
    "[2606:4700:4700::1111]:11434",
    "local",
    "evil.localhost.example",
)


async def _get(url: str, headers: dict[str, str]) -> tuple[int, str]:
    async with aiohttp.ClientSession() as http, http.get(url, headers=headers) as r:
        return r.status, await r.text()


async def test_loopback_server_refuses_foreign_host_names(library: Library, make_client: Any) -> None:
    client = await make_client(library)
    url = str(client.make_url("/api/tags"))
    for host in LOCAL_HOSTS:
        status, body = await _get(url, {"Host": host})
        assert status == 200, (host, status, body)
    for host in FOREIGN_HOSTS:
        status, body = await _get(url, {"Host": host})
        assert status == 403, (host, status, body)
        assert "not allowed" in body
    status, _ = await _get(str(client.make_url("/api/version")), {"Host": "attacker.example"})
    assert status == 403


async def test_public_server_answers_any_host(library: Library, make_client: Any) -> None:
    client = await make_client(library, host=HostAddress(host="0.0.0.0"))
    status, _ = await _get(str(client.make_url("/api/tags")), {"Host": "attacker.example:11434"})
    assert status == 200


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [
        ("http://localhost:3000", True),
        ("http://localhost", True),
        ("https://127.0.0.1:8443", True),
        ("HTTP://LOCALHOST:3000", True),
        ("app://obsidian.md", True),
        ("file://", True),
        ("https://example.org", True),
        ("https://docs.example.net", True),
        ("https://a.b.example.net:8443", True),
        ("http://localhost:1@evil", False),
        ("http://localhost:1@evil.example", False),
        ("http://localhost@evil.example", False),
        ("http://localhost:3000.evil.example", False),
        ("http://localhost.evil.example", False),
        ("http://localhost:3000/path", False),
        ("http://localhost:3000?q", False),
        ("http://localhost:3000#x", False),
        ("http://localhost:99999", False),
        ("http://localhost:abc", False),
        ("https://example.org:8443", False),
        ("https://example.org.evil.example", False),
        ("https://evil.example/.example.net", False),
        ("https://evil.example#.example.net", False),
        ("https://evil.example?.example.net", False),
        ("https://user@docs.example.net", False),
        ("null", False),
        ("https://evil.example", False),
    ],
)
async def test_origins_are_parsed_before_they_are_matched(
    library: Library, make_client: Any, origin: str, allowed: bool
) -> None:
    client = await make_client(library, origins=("https://example.org", "https://*.example.net:*"))
    status, _ = await _get(str(client.make_url("/api/tags")), {"Origin": origin})
    assert status == (200 if allowed else 403), origin
