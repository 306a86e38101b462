"""Issue 12: oras (oras-py, the ORAS Python client; the Go ``oras`` CLI is not installable here) pushes
and pulls against a real ``ollama-py registry serve`` with auth on, ``anonymous_pull = false``.

With ``scheme = "bearer"`` the pull goes through oras-py's token backend (it follows the challenge to
``/v2/token`` with Basic credentials and sends the token); the push uses its Basic backend (a bearer
registry takes Basic credentials too). oras-py's token backend cannot push to a registry that
follows Docker's token spec: after its first ``HEAD`` it holds a pull token, and on the ``POST``'s
401 ``insufficient_scope`` it sends the same token again instead of asking for the challenge's
scope (it asks anew only after a 403), which distribution answers the same way we do.
With ``scheme = "basic"`` both use Basic."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.registry_process import RegistryProcess, locked_down_config

oras_provider = pytest.importorskip("oras.provider")

pytestmark = pytest.mark.slow


@pytest.fixture(params=["bearer", "basic"])
def registry(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, RegistryProcess]]:
    config = locked_down_config(tmp_path / "registry.toml", request.param, "models/**")
    process = RegistryProcess("--root", str(tmp_path / "registry"), "--config", str(config))
    try:
        yield request.param, process
    finally:
        process.stop()


def _client(host: str, backend: str, password: str) -> object:
    reg = oras_provider.Registry(hostname=host, insecure=True, auth_backend=backend)
    reg.auth.set_basic_auth("alice", password)  # (login() would write ~/.docker/config.json)
    return reg


def test_oras_push_and_pull_with_auth_on(
    registry: tuple[str, RegistryProcess], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scheme, server = registry
    host = server.url.removeprefix("http://")
    monkeypatch.chdir(tmp_path)
    weights = os.urandom(100_000)
    Path("model.gguf").write_bytes(weights)
    Path("config.json").write_text("{}")
    pull_backend = "token" if scheme == "bearer" else "basic"
    reg = _client(host, "basic", "secret")
    response = reg.push(  # type: ignore[attr-defined]
        target=f"{host}/models/tiny:v1",
        files=["model.gguf:application/vnd.ollama.image.model"],
        manifest_config="config.json:application/vnd.example.model.config.v1+json",
    )
    assert response.status_code == 201
    assert reg.get_tags(f"{host}/models/tiny") == ["v1"]  # type: ignore[attr-defined]
    out = tmp_path / "out"
    fresh = _client(host, pull_backend, "secret")  # a second client: a pull with its own credentials
    fresh.pull(target=f"{host}/models/tiny:v1", outdir=str(out))  # type: ignore[attr-defined]
    assert (out / "model.gguf").read_bytes() == weights
    # (wrong credentials: oras-py retries with backoff for minutes; the registry's answers to them
    # are tested in test_login_protection.py and test_locked_down_end_to_end.py)
