"""Issue 12: client-side registry mirrors (``OLLAMA_PY_MIRRORS``, like containerd's), end to end
with real processes: ``ollama-py registry serve`` as the upstream, another as a pull-through mirror
of it, and ``ollama-py pull``.

- Mirror up: ``pull gemma3`` (host ``registry.ollama.ai``) goes through the mirror (its access log
  shows the requests), and the model keeps the name ``gemma3``.
- Mirror down (connection refused): one warning line, and the pull falls back to the next endpoint:
  the host itself (``127.0.0.1:PORT/library/gemma3``, our upstream), or, for ``gemma3``, the next
  mirror listed (nothing leaves this machine, so ``registry.ollama.ai`` itself is never contacted).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from registry.errors import InvalidInput
from registry.remote.mirrors import parse_mirrors
from registry.store.library import Library
from tests.support.models import make_model
from tests.support.registry_process import RegistryProcess
from tests.support.serve_process import ServeProcess, cli, cli_env

WEIGHTS = b"GGUF" + os.urandom(200_000)


def _dead_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Registries:
    upstream: RegistryProcess
    mirror: RegistryProcess
    mirror_log: Path
    upstream_log: Path
    home: Path

    @property
    def upstream_host(self) -> str:
        return self.upstream.url.removeprefix("http://")


@pytest.fixture
def registries(tmp_path: Path) -> Iterator[Registries]:
    upstream_log, mirror_log = tmp_path / "upstream.log", tmp_path / "mirror.log"
    (tmp_path / "upstream.toml").write_text(f'[server]\naccess_log = "{upstream_log}"\n')
    upstream = RegistryProcess(
        "--root", str(tmp_path / "upstream"), "--config", str(tmp_path / "upstream.toml")
    )
    mirror = None
    try:
        # the upstream holds library/gemma3, pushed by ollama-py itself
        home = tmp_path / "home"
        source = tmp_path / "source"
        library = Library.open(source)
        make_model(library, "gemma3", weights=WEIGHTS, system="from upstream")
        library.close()
        env = cli_env(source, home, OLLAMA_HOST=f"127.0.0.1:{_dead_port()}")
        host = upstream.url.removeprefix("http://")
        assert cli(env, "cp", "gemma3", f"{host}/library/gemma3").returncode == 0
        out = cli(env, "push", "--insecure", f"{host}/library/gemma3")
        assert out.returncode == 0, out.stderr
        (tmp_path / "mirror.toml").write_text(
            f'[server]\naccess_log = "{mirror_log}"\n[mirror]\nupstream = "{upstream.url}"\n'
        )
        mirror = RegistryProcess(
            "--root", str(tmp_path / "mirror"), "--config", str(tmp_path / "mirror.toml")
        )
        yield Registries(upstream, mirror, mirror_log, upstream_log, home)
    finally:
        if mirror is not None:
            mirror.stop()
        upstream.stop()


def _env(tmp_path: Path, registries: Registries, store: str, mirrors: str) -> dict[str, str]:
    return cli_env(
        tmp_path / store,
        registries.home,
        OLLAMA_HOST=f"127.0.0.1:{_dead_port()}",  # in process: no server of anyone else's
        OLLAMA_PY_MIRRORS=mirrors,
    )


def _warnings(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("warning:")]


def test_pull_through_a_mirror_keeps_the_name(registries: Registries, tmp_path: Path) -> None:
    env = _env(tmp_path, registries, "store", f"registry.ollama.ai={registries.mirror.url}")
    out = cli(env, "pull", "gemma3")
    assert out.returncode == 0, out.stderr
    assert _warnings(out.stderr) == []
    listing = cli(env, "list").stdout
    assert "gemma3:latest" in listing and "127.0.0.1" not in listing
    assert cli(env, "show", "--system", "gemma3").stdout == "from upstream\n"
    mirror_log = registries.mirror_log.read_text()
    assert '"GET /v2/library/gemma3/manifests/latest" 200' in mirror_log
    assert "/v2/library/gemma3/blobs/sha256:" in mirror_log  # the blobs came from it too


def test_a_mirror_that_is_down_falls_back_to_the_upstream_with_one_warning(
    registries: Registries, tmp_path: Path
) -> None:
    dead = f"http://127.0.0.1:{_dead_port()}"
    name = f"{registries.upstream_host}/library/gemma3"
    env = _env(tmp_path, registries, "store", f"{registries.upstream_host}={dead}")
    before = registries.upstream_log.read_text().count("/manifests/latest")
    out = cli(env, "pull", "--insecure", name)
    assert out.returncode == 0, out.stderr
    warnings = _warnings(out.stderr)
    assert len(warnings) == 1, out.stderr
    assert f"mirror {dead} is unreachable" in warnings[0]
    assert f"pulling from {registries.upstream_host}" in warnings[0]
    assert cli(env, "show", "--system", name).stdout == "from upstream\n"
    assert registries.upstream_log.read_text().count("/manifests/latest") == before + 1
    assert "/v2/library/gemma3" not in registries.mirror_log.read_text()


def test_gemma3_falls_back_from_a_dead_mirror_to_the_next(registries: Registries, tmp_path: Path) -> None:
    dead = f"http://127.0.0.1:{_dead_port()}"
    env = _env(tmp_path, registries, "store", f"registry.ollama.ai={dead},{registries.mirror.url}")
    out = cli(env, "pull", "gemma3")
    assert out.returncode == 0, out.stderr
    assert len(_warnings(out.stderr)) == 1 and dead in out.stderr
    assert "gemma3:latest" in cli(env, "list").stdout
    assert '"GET /v2/library/gemma3/manifests/latest" 200' in registries.mirror_log.read_text()


def test_a_malformed_mirror_setting_is_a_clear_error(tmp_path: Path) -> None:
    env = cli_env(
        tmp_path / "store",
        tmp_path / "home",
        OLLAMA_HOST=f"127.0.0.1:{_dead_port()}",
        OLLAMA_PY_MIRRORS="registry.ollama.ai=ftp://mirror",
    )
    out = cli(env, "pull", "gemma3")
    assert out.returncode == 1
    assert "OLLAMA_PY_MIRRORS: mirror 'ftp://mirror' must be http(s)://host[:port]" in out.stderr
    with pytest.raises(InvalidInput, match="is not HOST=URL"):
        parse_mirrors("http://127.0.0.1:5000")
    assert parse_mirrors(" registry.ollama.ai=http://A:1,https://b ; Ghcr.io=https://c ") == (
        ("registry.ollama.ai", ("http://a:1", "https://b")),
        ("ghcr.io", ("https://c",)),
    )


def test_the_model_server_pulls_through_the_mirror_it_was_started_with(
    registries: Registries, tmp_path: Path
) -> None:
    """``ollama-py serve`` reads ``OLLAMA_PY_MIRRORS`` when it starts; ``pull`` through it (the
    CLI hands the pull to the server at ``OLLAMA_HOST``) goes through the mirror."""
    env = _env(tmp_path, registries, "served", f"registry.ollama.ai={registries.mirror.url}")
    server = ServeProcess(env)
    try:
        assert server.listening, server.text()
        client = {**env, "OLLAMA_PY_MIRRORS": ""}  # the server's setting counts, not the client's
        out = cli(client, "pull", "gemma3")
        assert out.returncode == 0, out.stderr
        assert "gemma3:latest" in cli(client, "list").stdout
    finally:
        server.stop()
    assert '"GET /v2/library/gemma3/manifests/latest" 200' in registries.mirror_log.read_text()
