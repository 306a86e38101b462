"""Issue 12: ``ollama-py login HOST`` / ``logout HOST`` against ``ollama-py registry serve`` (real
processes, bearer and basic, ``anonymous_pull = false``): the docker-compatible config that pull and
push read, checked against the registry before it is written, and messages a person understands
for no credentials stored and for wrong ones."""

from __future__ import annotations

import json
import os
import stat
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import bcrypt
import pytest

from registry.store.library import Library
from tests.support.models import make_model
from tests.support.registry_process import RegistryProcess
from tests.support.serve_process import ServeProcess, cli, cli_env, free_port


@pytest.fixture(params=["bearer", "basic"])
def registry(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RegistryProcess]:
    password_hash = bcrypt.hashpw(b"secret", bcrypt.gensalt(4)).decode()
    config = tmp_path / "registry.toml"
    config.write_text(f"""
[auth]
scheme = "{request.param}"
anonymous_pull = false
token_secret = "0123456789abcdef0123456789abcdef"
[[auth.users]]
name = "alice"
password_hash = "{password_hash}"
[[auth.users]]
name = "bob"
password_hash = "{password_hash}"
[[auth.rules]]
repository = "**"
users = ["alice"]
actions = ["pull", "push", "delete"]
[[auth.rules]]
repository = "**"
users = ["bob"]
actions = ["pull"]
""")
    process = RegistryProcess("--root", str(tmp_path / "registry"), "--config", str(config))
    try:
        yield process
    finally:
        process.stop()


def test_login_push_pull_logout(registry: RegistryProcess, tmp_path: Path) -> None:
    host = registry.url.removeprefix("http://")
    store, home = tmp_path / "store", tmp_path / "home"
    library = Library.open(store)
    make_model(library, "m", weights=b"GGUF" + os.urandom(1000), system="s")
    library.close()
    env = cli_env(store, home)
    name = f"{host}/team/m:v1"
    assert cli(env, "cp", "m", name).returncode == 0

    none = cli(env, "push", "--insecure", name)
    assert none.returncode == 1
    assert "no credentials stored" in none.stderr and f"ollama-py login {host}" in none.stderr, none.stderr

    wrong = cli(env, "login", "--insecure", "--username", "alice", "--password-stdin", host, stdin="nope\n")
    assert wrong.returncode == 1 and "wrong username or password" in wrong.stderr, wrong.stderr
    assert not (home / "docker" / "config.json").exists()  # nothing is stored that does not work

    no_insecure = cli(env, "login", "--username", "alice", "--password-stdin", host, stdin="secret\n")
    assert no_insecure.returncode == 1 and "--insecure" in no_insecure.stderr, no_insecure.stderr

    ok = cli(env, "login", "--insecure", "--username", "alice", "--password-stdin", host, stdin="secret\n")
    assert ok.returncode == 0, ok.stderr
    assert "Login Succeeded" in ok.stdout
    config = home / "docker" / "config.json"
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    assert host in json.loads(config.read_text())["auths"]

    assert cli(env, "push", "--insecure", name).returncode == 0
    target = cli_env(tmp_path / "target", home)
    assert cli(target, "pull", "--insecure", name).returncode == 0

    # A password changed elsewhere: the stored one is refused, in words.
    doc = json.loads(config.read_text())
    doc["auths"][host] = {"username": "alice", "password": "changed"}
    doc["psFormat"] = "keep-me"
    config.write_text(json.dumps(doc))
    refused = cli(target, "pull", "--insecure", name)
    assert refused.returncode == 1 and "refused the stored username and password" in refused.stderr

    # bob may pull but not push: told so, naming the scope.
    bob = cli(env, "login", "--insecure", "--username", "bob", "--password-stdin", host, stdin="secret\n")
    assert bob.returncode == 0, bob.stderr
    denied = cli(env, "push", "--insecure", name)
    assert denied.returncode == 1 and "bob may not push to team/m" in denied.stderr, denied.stderr

    out = cli(env, "logout", host)
    assert out.returncode == 0, out.stderr
    doc = json.loads(config.read_text())
    assert host not in doc["auths"] and doc["psFormat"] == "keep-me"  # the rest is kept
    again = cli(env, "logout", host)
    assert again.returncode == 1 and "not logged in" in again.stderr


@pytest.mark.parametrize("registry", ["bearer"], indirect=True)
def test_the_model_server_pulls_and_pushes_with_the_cli_credentials(
    registry: RegistryProcess, tmp_path: Path
) -> None:
    """Issue 12: /api/pull and /api/push use the credentials ``ollama-py login`` stored (and the CA
    bundle and signing key the CLI uses), not default transfer settings."""
    host = registry.url.removeprefix("http://")
    store, home = tmp_path / "store", tmp_path / "home"
    library = Library.open(store)
    make_model(library, "m", weights=b"GGUF" + os.urandom(1000), system="served")
    library.close()
    port = free_port("127.0.0.1")
    env = cli_env(store, home, OLLAMA_HOST=f"127.0.0.1:{port}")
    ok = cli(env, "login", "--insecure", "--username", "alice", "--password-stdin", host, stdin="secret\n")
    assert ok.returncode == 0, ok.stderr
    assert cli(env, "cp", "m", f"{host}/team/m:v1").returncode == 0
    server = ServeProcess(env)
    try:
        assert server.listening, server.text()
        for path, model in (("/api/push", f"{host}/team/m:v1"), ("/api/pull", f"{host}/team/m:v1")):
            body = json.dumps({"model": model, "insecure": True, "stream": False}).encode()
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}{path}", data=body, headers={"Content-Type": "application/json"}
            )
            with urllib.request.urlopen(request, timeout=120) as r:
                answer = json.loads(r.read())
            assert answer.get("status") == "success", (path, answer)
    finally:
        server.stop()
