"""Issue 10 item 6 through the paths a user takes: ``ollama-py push``/``pull`` (subprocesses) against
``ollama-py registry serve`` (a subprocess) with auth on and the failed-login limit.

A user who typed a wrong password three times, then the right one, still pushes; one push counts
as one login however many blobs it sends in parallel; a locked-out user is told so in words.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import bcrypt
import pytest

from registry.ociserver.settings import ServerSettings, load_config_file
from registry.store.library import Library
from tests.support.models import make_model
from tests.support.registry_process import RegistryProcess
from tests.support.registry_server import start_registry
from tests.support.serve_process import cli, cli_env

#: One failure to spare: a push that counted its parallel requests as several failures locks the
#: user out before the right password is typed.
LIMIT = 4


@pytest.fixture(params=["bearer", "basic"])
def registry(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RegistryProcess]:
    """The registry; its challenges ask for a token (bearer) or for the password on every request."""
    password_hash = bcrypt.hashpw(b"secret", bcrypt.gensalt(4)).decode()
    config = tmp_path / "registry.toml"
    config.write_text(f"""
[auth]
scheme = "{request.param}"
token_secret = "0123456789abcdef0123456789abcdef"
max_failed_logins = {LIMIT}
failed_login_window = "10m"
[[auth.users]]
name = "alice"
password_hash = "{password_hash}"
""")
    process = RegistryProcess("--root", str(tmp_path / "registry"), "--config", str(config))
    try:
        yield process
    finally:
        process.stop()


def _login(home: Path, host: str, password: str) -> None:
    """What ``docker login`` leaves behind: the credentials ``ollama-py`` reads."""
    (home / "docker").mkdir(parents=True, exist_ok=True)
    auth = base64.b64encode(f"alice:{password}".encode()).decode()
    (home / "docker" / "config.json").write_text(json.dumps({"auths": {host: {"auth": auth}}}))


def _token_status(url: str, password: str) -> int:
    auth = base64.b64encode(f"alice:{password}".encode()).decode()
    request = urllib.request.Request(
        f"{url}/v2/token?scope=repository:team/m:pull", headers={"Authorization": f"Basic {auth}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as r:
            return int(r.status)
    except urllib.error.HTTPError as err:
        return err.code


def test_three_wrong_passwords_then_the_right_one_pushes_and_pulls(
    registry: RegistryProcess, tmp_path: Path
) -> None:
    host = registry.url.removeprefix("http://")
    store, home = tmp_path / "store", tmp_path / "home"
    library = Library.open(store)
    weights = b"GGUF" + os.urandom(2_000_000)
    make_model(
        library, "m", weights=weights, template="{{ .Prompt }}", system="s", params={"stop": ["x"]}
    )  # five blobs: pushed in parallel
    library.close()
    env = cli_env(store, home)
    name = f"{host}/team/m:v1"
    assert cli(env, "cp", "m", name).returncode == 0
    for attempt in range(3):
        _login(home, host, f"wrong-{attempt}")
        out = cli(env, "push", "--insecure", name)
        assert out.returncode == 1 and "Error: unauthorized" in out.stderr, out.stderr
        # Not locked yet (checked by the words: the port number may contain the digits 429).
        assert "answered 429" not in out.stderr, (attempt, out.stderr)
        assert "too many failed logins" not in out.stderr, (attempt, out.stderr)
    _login(home, host, "secret")
    out = cli(env, "push", "--insecure", name)
    assert out.returncode == 0, out.stderr
    assert "success" in out.stderr
    # The parallel blob requests of the right push counted no failure: exactly three are
    # remembered, so one more wrong password is still answered (401), and only then is alice locked.
    assert _token_status(registry.url, "wrong-again") == 401
    assert _token_status(registry.url, "secret") == 429
    locked = cli(env, "push", "--insecure", name)
    assert locked.returncode == 1 and "too many failed logins" in locked.stderr, locked.stderr
    assert "retry in" in locked.stderr


def test_parallel_blob_transfers_of_one_push_and_pull_count_no_failure(
    registry: RegistryProcess, tmp_path: Path
) -> None:
    host = registry.url.removeprefix("http://")
    source, home = tmp_path / "source", tmp_path / "home"
    library = Library.open(source)
    for i in range(3):
        make_model(
            library,
            f"m{i}",
            weights=b"GGUF" + os.urandom(300_000),
            template=f"{{{{ .Prompt }}}} {i}",
            system=f"s{i}",
            params={"stop": [str(i)]},
        )
    library.close()
    env = cli_env(source, home)
    _login(home, host, "secret")
    for i in range(3):
        assert cli(env, "cp", f"m{i}", f"{host}/team/m{i}:v1").returncode == 0
        out = cli(env, "push", "--insecure", f"{host}/team/m{i}:v1")
        assert out.returncode == 0, out.stderr
    target = cli_env(tmp_path / "target", home)
    for i in range(3):
        out = cli(target, "pull", "--insecure", f"{host}/team/m{i}:v1")
        assert out.returncode == 0, out.stderr
    shown = cli(target, "show", "--system", f"{host}/team/m2:v1")
    assert shown.stdout == "s2\n"
    for attempt in range(LIMIT - 1):  # nothing was counted: LIMIT - 1 failures leave alice free
        assert _token_status(registry.url, f"wrong-{attempt}") == 401
    assert _token_status(registry.url, "secret") == 200


@pytest.mark.parametrize("registry", ["bearer"], indirect=True)  # tokens are for the bearer scheme
def test_a_token_too_narrow_for_the_request_is_challenged_again(registry: RegistryProcess) -> None:
    """A client holding a pull token (from a ``HEAD``'s challenge) that starts an upload gets 401
    with a challenge for ``pull,push`` (distribution's insufficient_scope), not 403: clients that
    answer each 401 with a new token (Ollama's) can push."""
    auth = base64.b64encode(b"alice:secret").decode()
    request = urllib.request.Request(
        f"{registry.url}/v2/token?scope=repository:team/m:pull", headers={"Authorization": f"Basic {auth}"}
    )
    with urllib.request.urlopen(request, timeout=30) as r:
        token = json.loads(r.read())["token"]
    post = urllib.request.Request(
        f"{registry.url}/v2/team/m/blobs/uploads/",
        method="POST",
        headers={"Authorization": f"Bearer {token}"},
    )
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(post, timeout=30)
    assert info.value.code == 401
    assert 'scope="repository:team/m:pull,push"' in info.value.headers["WWW-Authenticate"]


def _hashes(url: str) -> float:
    with urllib.request.urlopen(f"{url}/metrics", timeout=30) as r:
        text = r.read().decode()
    for line in text.splitlines():
        if line.startswith("registry_password_hashes_total "):
            return float(line.split()[1])
    raise AssertionError(text)


def test_the_same_wrong_password_again_is_one_failure_and_one_hash(registry: RegistryProcess) -> None:
    """A client's retries of one wrong password (or its parallel requests, one after another) are
    one guess: refused at once, not hashed again, not counted again. Distinct guesses still count."""
    before = _hashes(registry.url)
    for _ in range(3 * LIMIT):
        assert _token_status(registry.url, "typo") == 401
    assert _hashes(registry.url) == before + 1
    for attempt in range(LIMIT - 2):
        assert _token_status(registry.url, f"guess-{attempt}") == 401
    assert _token_status(registry.url, "secret") == 200  # LIMIT - 1 distinct failures: not locked
    assert _token_status(registry.url, "another guess") == 401
    assert _token_status(registry.url, "secret") == 429


def _in_process_settings(tmp_path: Path, cost: int) -> ServerSettings:
    password_hash = bcrypt.hashpw(b"secret", bcrypt.gensalt(cost)).decode()
    path = tmp_path / "auth.toml"
    path.write_text(f"""
[auth]
token_secret = "0123456789abcdef0123456789abcdef"
max_failed_logins = {LIMIT}
failed_login_window = "10m"
[[auth.users]]
name = "alice"
password_hash = "{password_hash}"
""")
    return load_config_file(path, ServerSettings(root=tmp_path / "root", port=0, tag_cache_seconds=0))


def _basic(password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"alice:{password}".encode()).decode()}


async def test_identical_logins_in_flight_join_even_one_failure_from_the_limit(tmp_path: Path) -> None:
    """LIMIT - 1 failures, then eight parallel requests with the right password (one push's blobs):
    they share one check, so they are one attempt, not eight that overshoot the limit (429)."""
    reg = await start_registry(_in_process_settings(tmp_path, 10))
    try:
        async with aiohttp.ClientSession() as http:
            for attempt in range(LIMIT - 1):
                async with http.get(f"{reg.url}/v2/token", headers=_basic(f"wrong-{attempt}")) as r:
                    assert r.status == 401

            async def login() -> int:
                async with http.get(f"{reg.url}/v2/token", headers=_basic("secret")) as r:
                    return r.status

            assert await asyncio.gather(*(login() for _ in range(8))) == [200] * 8
    finally:
        await reg.stop()


async def test_a_locked_account_is_no_oracle_for_recently_used_passwords(tmp_path: Path) -> None:
    """A remembered success is not answered while the account is locked: otherwise each locked-out
    guess would learn whether it is the password alice used a moment ago."""
    reg = await start_registry(_in_process_settings(tmp_path, 4))
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{reg.url}/v2/token", headers=_basic("secret")) as r:
                assert r.status == 200  # remembered from now on
            for attempt in range(LIMIT):
                async with http.get(f"{reg.url}/v2/token", headers=_basic(f"wrong-{attempt}")) as r:
                    assert r.status == 401
            async with http.get(f"{reg.url}/v2/token", headers=_basic("secret")) as r:
                assert r.status == 429
            async with http.get(f"{reg.url}/v2/token", headers=_basic("wrong-0")) as r:
                assert r.status == 401  # a refused guess again: nothing new to learn, not counted
    finally:
        await reg.stop()
