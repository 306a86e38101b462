"""Issue 10 item 14 through real processes: ``ollama-py serve`` bound to loopback refuses a foreign
``Host`` (DNS rebinding) and the ``ollama-py`` CLI itself still works with ``OLLAMA_HOST`` written
as ``localhost:PORT``, ``127.0.0.1:PORT``, ``[::1]:PORT`` or ``http://localhost:PORT``: ``list``,
``run`` of a local model, ``run --insecure`` of a model the server pulls from a registry, ``ps``.
"""

from __future__ import annotations

import http.client
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from registry.store.library import Library
from tests.support.gguf_models import add_gguf_model
from tests.support.registry_process import RegistryProcess
from tests.support.serve_process import ServeProcess, cli, cli_env, free_port


def _has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
    except OSError:
        return False
    return True


FORMS = [
    "127.0.0.1:{port}",
    "localhost:{port}",
    "http://localhost:{port}",
    pytest.param(
        "[::1]:{port}",
        marks=pytest.mark.skipif(not _has_ipv6_loopback(), reason="no IPv6 loopback"),
    ),
]


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory, tiny_gguf: Path) -> Iterator[str]:
    """A registry subprocess holding ``team/tiny:v1`` (pushed with ``ollama-py push``)."""
    root = tmp_path_factory.mktemp("host-forms")
    process = RegistryProcess("--root", str(root / "registry"))
    try:
        host = process.url.removeprefix("http://")
        library = Library.open(root / "source")
        add_gguf_model(library, "tiny", tiny_gguf, params={"num_predict": 4})
        library.close()
        env = cli_env(root / "source", root)
        assert cli(env, "cp", "tiny", f"{host}/team/tiny:v1").returncode == 0
        pushed = cli(env, "push", "--insecure", f"{host}/team/tiny:v1")
        assert pushed.returncode == 0, pushed.stderr
        yield host
    finally:
        process.stop()


def _status(address: str, port: int, host_header: str) -> int:
    connection = http.client.HTTPConnection(address, port, timeout=30)
    try:
        connection.putrequest("GET", "/api/tags", skip_host=True)
        connection.putheader("Host", host_header)
        connection.endheaders()
        return connection.getresponse().status
    finally:
        connection.close()


@pytest.mark.parametrize("form", FORMS)
def test_cli_works_and_foreign_host_is_refused(
    form: str, registry: str, tmp_path: Path, tiny_gguf: Path
) -> None:
    bind = "::1" if form.startswith("[") else "127.0.0.1"
    port = free_port(bind)
    if "localhost" in form:  # localhost binds every loopback address it resolves to
        port = free_port("::1") if _has_ipv6_loopback() else port
        while not _free_on(port, "127.0.0.1"):
            port = free_port("::1")
    library = Library.open(tmp_path / "store")
    add_gguf_model(library, "tiny", tiny_gguf, params={"num_predict": 4})
    library.close()
    env = cli_env(tmp_path / "store", tmp_path, OLLAMA_HOST=form.format(port=port))
    server = ServeProcess(env)
    try:
        assert server.listening, server.text()
        address = "::1" if form.startswith("[") else "127.0.0.1"
        assert _status(address, port, "attacker.example") == 403
        assert _status(address, port, f"attacker.example:{port}") == 403
        assert _status(address, port, f"localhost:{port}") == 200
        listed = cli(env, "list")
        assert listed.returncode == 0 and "tiny:latest" in listed.stdout, listed
        ran = cli(env, "run", "tiny", "hello")
        assert ran.returncode == 0, ran.stderr
        remote = f"{registry}/team/tiny:v1"
        pulled = cli(env, "run", "--insecure", remote, "hello")
        assert pulled.returncode == 0, pulled.stderr
        assert "success" in pulled.stderr
        ps = cli(env, "ps")
        assert ps.returncode == 0 and "tiny:latest" in ps.stdout, ps
        assert cli(env, "stop", "tiny").returncode == 0
    finally:
        server.stop()


def _free_on(port: int, host: str) -> bool:
    with socket.socket() as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True
