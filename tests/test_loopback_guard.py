"""The test session's loopback-only guard (tests/support/loopback_only): anything beyond this machine
is refused at once with an error naming the address, in this process and in the Python processes the
tests start; loopback, unix sockets and this machine's own addresses work; a refusal that the code
under test catches still fails the test."""

from __future__ import annotations

import asyncio
import os
import re
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from registry.hosts.interface_addresses import interface_addresses
from tests.support.checkout_env import ROOT, checkout_pythonpath
from tests.support.loopback_only.loopback_guard import LOG_ENV, NonLoopbackConnection
from tests.support.serve_process import cli, cli_env

#: A documentation address (TEST-NET) that is not one of this machine's: nothing may reach it.
FAR = next(
    a for a in ("192.0.2.1", "198.51.100.1", "203.0.113.1") if a not in map(str, interface_addresses())
)


@pytest.fixture
def refusals(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private refusal log for tests that are refused on purpose (the session's stays empty)."""
    log = tmp_path / "refusals.log"
    monkeypatch.setenv(LOG_ENV, str(log))
    return log


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A TCP socket listening on 127.0.0.1."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield server


def test_a_connection_beyond_this_machine_is_refused_naming_the_address(refusals: Path) -> None:
    with pytest.raises(NonLoopbackConnection, match=re.escape(FAR)):
        socket.create_connection((FAR, 9), timeout=10)
    with socket.socket() as s, pytest.raises(NonLoopbackConnection):
        s.connect_ex((FAR, 9))
    with socket.socket(socket.AF_INET6) as s, pytest.raises(NonLoopbackConnection):
        s.connect(("2001:db8::1", 9))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s, pytest.raises(NonLoopbackConnection):
        s.sendto(b"x", (FAR, 9))
    assert refusals.read_text().count(FAR) == 3


async def test_asyncio_connections_beyond_this_machine_are_refused(refusals: Path) -> None:
    with pytest.raises(NonLoopbackConnection, match="refused a connection to"):
        await asyncio.open_connection(FAR, 9)
    with socket.socket() as s:
        s.setblocking(False)
        with pytest.raises(NonLoopbackConnection):
            await asyncio.get_running_loop().sock_connect(s, (FAR, 9))
    with pytest.raises(NonLoopbackConnection, match=re.escape("refused a name lookup of 'example.com'")):
        await asyncio.open_connection("example.com", 80)


def test_name_lookups_beyond_this_machine_are_refused(refusals: Path) -> None:
    with pytest.raises(NonLoopbackConnection, match=re.escape("'example.com'")):
        socket.getaddrinfo("example.com", 443)
    with pytest.raises(NonLoopbackConnection):
        socket.gethostbyname("registry.ollama.ai")
    with pytest.raises(NonLoopbackConnection):
        socket.gethostbyaddr(FAR)
    with pytest.raises(NonLoopbackConnection):  # glibc would ask the DNS server
        socket.getaddrinfo("app.localhost", None)
    assert "registry.ollama.ai" in refusals.read_text()


def test_loopback_unix_and_local_names_work(listener: socket.socket, tmp_path: Path) -> None:
    port = listener.getsockname()[1]
    for host in ("127.0.0.1", "localhost", socket.gethostname()):
        socket.create_connection((host, port), timeout=10).close()
    assert socket.getaddrinfo("localhost", port)
    with socket.socket(socket.AF_UNIX) as server, socket.socket(socket.AF_UNIX) as client:
        server.bind(str(tmp_path / "s.sock"))
        server.listen()
        client.connect(str(tmp_path / "s.sock"))


def test_this_machines_own_addresses_are_local() -> None:
    """Servers bound to an interface address (the Host-guard tests) are reached without leaving."""
    for address in interface_addresses():
        family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
        if address.is_link_local:  # needs a scope id to bind
            continue
        with socket.socket(family) as server:
            server.bind((str(address), 0))
            server.listen()
            socket.create_connection((str(address), server.getsockname()[1]), timeout=10).close()


def _python(code: str, log: Path) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter with the session's environment (and a private log)."""
    env = {**os.environ, LOG_ENV: str(log), "PYTHONPATH": checkout_pythonpath()}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], env=env, capture_output=True, text=True, timeout=60
    )


def test_a_python_subprocess_is_guarded_too(tmp_path: Path, listener: socket.socket) -> None:
    port = listener.getsockname()[1]
    local = _python(
        f"import socket; socket.create_connection(('127.0.0.1', {port}), timeout=10)", tmp_path / "a"
    )
    assert local.returncode == 0, local.stderr
    far = _python(f"import socket; socket.create_connection(('{FAR}', 9), timeout=10)", tmp_path / "b")
    assert far.returncode != 0
    assert "NonLoopbackConnection" in far.stderr and FAR in far.stderr, far.stderr
    assert FAR in (tmp_path / "b").read_text()


def test_the_cli_started_by_the_helpers_is_guarded(tmp_path: Path) -> None:
    log = tmp_path / "refusals.log"
    env = cli_env(tmp_path / "store", tmp_path, **{LOG_ENV: str(log)})
    pulled = cli(env, "pull", "--insecure", f"{FAR}:5000/team/model:v1")
    assert pulled.returncode != 0
    assert f"refused a connection to ('{FAR}', 5000)" in log.read_text(), pulled.stderr


def test_a_caught_refusal_still_fails_the_test(tmp_path: Path) -> None:
    """The session's per-test check reads the log, so swallowing the error does not hide it."""
    (tmp_path / "conftest.py").write_text(
        "from tests.conftest import loopback_only, no_connection_beyond_loopback\n"
    )
    (tmp_path / "test_swallows.py").write_text(
        textwrap.dedent(f"""
            import contextlib, socket

            def test_swallows_the_refusal():
                with contextlib.suppress(Exception):
                    socket.create_connection(("{FAR}", 9), timeout=10)
            """)
    )
    env = {**os.environ, "PYTHONPATH": checkout_pythonpath()}
    env.pop(LOG_ENV, None)
    inner = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path / "test_swallows.py")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert inner.returncode == 1, inner.stdout
    assert "1 passed, 1 error" in inner.stdout and "reached beyond loopback" in inner.stdout, inner.stdout


def test_no_test_gives_a_subprocess_a_pythonpath_without_the_guard() -> None:
    """A subprocess given ``PYTHONPATH`` other than :func:`checkout_pythonpath` would run unguarded."""
    setting = re.compile(r"""["']?PYTHONPATH["']?\s*[:=](?!\s*checkout_pythonpath\(\))""")
    exempt = {"conftest.py", "checkout_env.py", "test_loopback_guard.py"}
    offenders = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in sorted((ROOT / "tests").rglob("*.py"))
        if path.name not in exempt
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if setting.search(line)
    ]
    assert offenders == []
