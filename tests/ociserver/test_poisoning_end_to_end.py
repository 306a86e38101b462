"""Issue 10 item 1 end to end: the issue's exact poisoning sequence, sent as raw requests to
``ollama-py registry serve`` (a subprocess), then an honest ``ollama-py push`` of the same digest and
an ``ollama-py pull`` of it (subprocesses): the honest bytes come back, everywhere.

With auth on, the attacker has push rights on a repository of their own only; the victim's
repository is another.
"""

from __future__ import annotations

import asyncio
import base64
import json
import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import aiohttp
import bcrypt
import pytest

from registry.store.library import Library
from tests.support.models import make_model
from tests.support.registry_process import RegistryProcess
from tests.support.registry_server import sha, sha512
from tests.support.serve_process import cli, cli_env

GOOD = b"GOODPREFIX"
ATTACKER_TOKEN = "attacker-token-0123456789"


def _start(tmp_path: Path, auth: bool) -> RegistryProcess:
    args = ["--root", str(tmp_path / "registry")]
    if auth:
        password_hash = bcrypt.hashpw(b"secret", bcrypt.gensalt(4)).decode()
        config = tmp_path / "registry.toml"
        config.write_text(f"""
[auth]
token_secret = "0123456789abcdef0123456789abcdef"
[[auth.users]]
name = "alice"
password_hash = "{password_hash}"
[[auth.tokens]]
name = "mallory"
token = "{ATTACKER_TOKEN}"
[[auth.rules]]
repository = "evil/**"
users = ["mallory"]
actions = ["pull", "push", "delete"]
[[auth.rules]]
repository = "team/**"
users = ["alice"]
actions = ["pull", "push", "delete"]
""")
        args += ["--config", str(config)]
    return RegistryProcess(*args)


@pytest.fixture(params=[False, True], ids=["open", "auth"])
def registry(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[RegistryProcess, bool]]:
    process = _start(tmp_path, request.param)
    try:
        yield process, request.param
    finally:
        process.stop()


def _attacker(auth: bool) -> aiohttp.ClientSession:
    headers = {"Authorization": f"Bearer {ATTACKER_TOKEN}"} if auth else {}
    return aiohttp.ClientSession(headers=headers)


async def _poison(url: str, auth: bool, digest_of: Callable[[bytes], str]) -> None:
    """POST; PATCH 0-9 GOODPREFIX; PATCH 10-25 with a body that is not 16 bytes (longer, cut off
    mid-body, shorter); PUT ?digest=H(GOODPREFIX). Only the ten accepted bytes may be published."""
    async with _attacker(auth) as http:
        async with http.post(f"{url}/v2/evil/repo/blobs/uploads/") as r:
            assert r.status == 202, await r.text()
            location = r.headers["Location"]
        async with http.patch(location, data=GOOD, headers={"Content-Range": "0-9"}) as r:
            assert r.status == 202, await r.text()
            location = r.headers["Location"]
        async with http.patch(location, data=b"E" * (4 << 20), headers={"Content-Range": "10-25"}) as r:
            assert r.status == 400, await r.text()
        async with http.patch(location, data=b"EVIL", headers={"Content-Range": "10-25"}) as r:
            assert r.status == 400, await r.text()
        _patch_and_hang_up(location, auth, 6 << 20)
        for _ in range(200):  # the broken PATCH gives the session back
            async with http.get(location) as r:
                if r.status == 204 and r.headers.get("Range") == "0-9":
                    break
            await asyncio.sleep(0.05)
        async with http.put(location, params={"digest": digest_of(GOOD)}) as r:
            assert r.status == 201, await r.text()
        async with http.get(f"{url}/v2/evil/repo/blobs/{digest_of(GOOD)}") as r:
            assert r.status == 200 and await r.read() == GOOD


def _patch_and_hang_up(location: str, auth: bool, length: int) -> None:
    """A PATCH announcing ``length`` bytes, of which half are sent before the socket closes."""
    rest = location.removeprefix("http://")
    host, path = rest.split("/", 1)
    address, port = host.rsplit(":", 1)
    head = [
        f"PATCH /{path} HTTP/1.1",
        f"Host: {host}",
        f"Content-Length: {length}",
        f"Content-Range: 10-{10 + length - 1}",
    ]
    if auth:
        head.append(f"Authorization: Bearer {ATTACKER_TOKEN}")
    with socket.create_connection((address, int(port))) as s:
        s.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + b"E" * (length // 2))


def _login(home: Path, host: str) -> None:
    (home / "docker").mkdir(parents=True, exist_ok=True)
    auth = base64.b64encode(b"alice:secret").decode()
    (home / "docker" / "config.json").write_text(json.dumps({"auths": {host: {"auth": auth}}}))


def test_poisoned_sha256_digest_then_honest_cli_push_and_pull_get_the_honest_bytes(
    registry: tuple[RegistryProcess, bool], tmp_path: Path
) -> None:
    process, auth = registry
    asyncio.run(_poison(process.url, auth, sha))
    host = process.url.removeprefix("http://")
    home = tmp_path / "home"
    if auth:
        _login(home, host)
    source = tmp_path / "source"
    library = Library.open(source)
    make_model(library, "m", weights=GOOD, template="{{ .Prompt }}")  # a layer with the poisoned digest
    library.close()
    name = f"{host}/team/victim:v1"
    env = cli_env(source, home)
    assert cli(env, "cp", "m", name).returncode == 0
    pushed = cli(env, "push", "--insecure", name)
    assert pushed.returncode == 0, pushed.stderr
    target = cli_env(tmp_path / "target", home)
    pulled = cli(target, "pull", "--insecure", name)
    assert pulled.returncode == 0, pulled.stderr
    verified = cli(target, "verify")
    assert verified.returncode == 0 and verified.stdout.strip().endswith("ok"), verified
    blob = tmp_path / "target" / "blobs" / "sha256" / sha(GOOD)[7:9] / sha(GOOD)[7:]
    assert blob.read_bytes() == GOOD

    async def served() -> list[bytes]:
        headers = {"Authorization": "Basic " + base64.b64encode(b"alice:secret").decode()} if auth else {}
        async with aiohttp.ClientSession(headers=headers) as http:
            out = []
            for repo in ("team/victim", "evil/repo"):
                if auth and repo == "evil/repo":
                    continue  # alice may not read the attacker's repository
                async with http.get(f"{process.url}/v2/{repo}/blobs/{sha(GOOD)}") as r:
                    assert r.status == 200
                    out.append(await r.read())
            return out

    assert set(asyncio.run(served())) == {GOOD}


def test_poisoned_sha512_digest_then_honest_push_gets_the_honest_bytes(
    registry: tuple[RegistryProcess, bool],
) -> None:
    process, auth = registry
    asyncio.run(_poison(process.url, auth, sha512))

    async def honest() -> None:
        headers = {"Authorization": "Basic " + base64.b64encode(b"alice:secret").decode()} if auth else {}
        async with aiohttp.ClientSession(headers=headers) as http:
            async with http.post(f"{process.url}/v2/team/victim/blobs/uploads/") as r:
                assert r.status == 202, await r.text()
                location = r.headers["Location"]
            async with http.put(location, params={"digest": sha512(GOOD)}, data=GOOD) as r:
                assert r.status == 201, await r.text()
            async with http.get(f"{process.url}/v2/team/victim/blobs/{sha512(GOOD)}") as r:
                assert r.status == 200 and await r.read() == GOOD
            async with http.head(f"{process.url}/v2/team/victim/blobs/{sha512(GOOD)}") as r:
                assert r.headers["Content-Length"] == str(len(GOOD))
        async with _attacker(auth) as http, http.get(f"{process.url}/v2/evil/repo/blobs/{sha512(GOOD)}") as r:
            assert r.status == 200 and await r.read() == GOOD

    asyncio.run(honest())
