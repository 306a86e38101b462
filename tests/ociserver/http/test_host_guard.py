"""DNS rebinding against ``ollama-py registry serve`` (a subprocess): on loopback without auth it
trusts every local client, so a page on ``attacker.example`` rebound to 127.0.0.1 could push and
delete. It answers only local ``Host`` names there (403 ``DENIED`` otherwise); with auth, or with
``--insecure-public``, every name is answered (credentials decide)."""

from __future__ import annotations

import http.client
import json
import os
from pathlib import Path

import pytest

from registry.store.library import Library
from tests.support.models import make_model
from tests.support.registry_process import RegistryProcess
from tests.support.serve_process import cli, cli_env


def _status(url: str, method: str, path: str, host: str) -> tuple[int, bytes]:
    address, port = url.removeprefix("http://").rsplit(":", 1)
    connection = http.client.HTTPConnection(address, int(port), timeout=30)
    try:
        connection.putrequest(method, path, skip_host=True)
        connection.putheader("Host", host)
        connection.putheader("Content-Length", "0")
        connection.endheaders()
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def test_loopback_registry_without_auth_refuses_foreign_host_names(tmp_path: Path) -> None:
    process = RegistryProcess("--root", str(tmp_path / "registry"))
    try:
        port = process.url.rsplit(":", 1)[1]
        for method, path in (("GET", "/v2/"), ("POST", "/v2/a/b/blobs/uploads/"), ("GET", "/metrics")):
            for host in ("attacker.example", f"attacker.example:{port}", "localhost.attacker.example"):
                status, body = _status(process.url, method, path, host)
                assert status == 403, (method, path, host, status)
                if path.startswith("/v2"):
                    assert json.loads(body)["errors"][0]["code"] == "DENIED"
        for host in (f"127.0.0.1:{port}", f"localhost:{port}", "[::1]", "registry.local"):
            assert _status(process.url, "POST", "/v2/a/b/blobs/uploads/", host)[0] == 202, host
        # ollama-py's own client names the registry by a local name: push and pull work.
        library = Library.open(tmp_path / "source")
        make_model(library, "m", weights=b"GGUF" + os.urandom(1000))
        library.close()
        env = cli_env(tmp_path / "source", tmp_path)
        name = f"localhost:{port}/team/m:v1"
        assert cli(env, "cp", "m", name).returncode == 0
        pushed = cli(env, "push", "--insecure", name)
        assert pushed.returncode == 0, pushed.stderr
        pulled = cli(cli_env(tmp_path / "target", tmp_path), "pull", "--insecure", name)
        assert pulled.returncode == 0, pulled.stderr
    finally:
        process.stop()


@pytest.mark.parametrize("setting", ["auth", "insecure-public"])
def test_with_auth_or_insecure_public_every_name_is_answered(tmp_path: Path, setting: str) -> None:
    args = ["--root", str(tmp_path / "registry")]
    if setting == "auth":
        config = tmp_path / "registry.toml"
        config.write_text('[auth]\n[[auth.tokens]]\nname = "ci"\ntoken = "static-token-0123456789"\n')
        args += ["--config", str(config)]
    else:
        args.append("--insecure-public")
    process = RegistryProcess(*args)
    try:
        status, _ = _status(process.url, "POST", "/v2/a/b/blobs/uploads/", "registry.example.com")
        assert status == (401 if setting == "auth" else 202)
    finally:
        process.stop()
