"""Issue 12: token scopes as Docker's token spec and distribution have them.

Actions per method (GET/HEAD pull; POST/PUT/PATCH push; DELETE delete, except cancelling one's own
upload session, which is part of a push), ``*`` = every action the user holds, a mount's challenge
names the source repository, and a token that lacks a scope its user holds gets 401 with
``error="insufficient_scope"`` (403 only when the user lacks the right).
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import bcrypt
import pytest

from registry.ociserver.settings import ServerSettings, load_config_file
from tests.support.registry_server import RunningRegistry, push_image, sha, start_registry

HASH = bcrypt.hashpw(b"secret", bcrypt.gensalt(4)).decode()


def _settings(tmp_path: Path) -> ServerSettings:
    path = tmp_path / "auth.toml"
    path.write_text(f"""
[auth]
token_secret = "0123456789abcdef0123456789abcdef"
anonymous_pull = false
[[auth.users]]
name = "alice"
password_hash = "{HASH}"
[[auth.users]]
name = "bob"
password_hash = "{HASH}"
[[auth.rules]]
repository = "team/**"
users = ["alice"]
actions = ["pull", "push", "delete"]
[[auth.rules]]
repository = "team/**"
users = ["bob"]
actions = ["pull"]
""")
    return load_config_file(path, ServerSettings(root=tmp_path / "root", port=0, tag_cache_seconds=0))


def _basic(user: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:secret".encode()).decode()}


@pytest.fixture
async def reg(tmp_path: Path) -> AsyncIterator[RunningRegistry]:
    server = await start_registry(_settings(tmp_path))
    try:
        async with aiohttp.ClientSession(headers=_basic("alice")) as alice:
            await push_image(alice, server.url, "team/m", "v1", b"{}", [b"layer one"])
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def _token(
    http: aiohttp.ClientSession, reg: RunningRegistry, user: str, *scopes: str
) -> dict[str, str]:
    params = [("service", "ollama-py-registry")] + [("scope", s) for s in scopes]
    async with http.get(f"{reg.url}/v2/token", params=params, headers=_basic(user)) as r:
        assert r.status == 200, await r.text()
        return {"Authorization": f"Bearer {(await r.json())['token']}"}


def _scopes(challenge: str) -> set[str]:
    assert challenge.startswith("Bearer "), challenge
    value = challenge.split('scope="', 1)[1].split('"', 1)[0]
    return set(value.split(" "))


async def test_delete_is_challenged_for_delete_and_a_delete_token_deletes(
    reg: RunningRegistry, http: aiohttp.ClientSession
) -> None:
    url = f"{reg.url}/v2/team/m/manifests/v1"
    async with http.delete(url) as r:
        assert r.status == 401
        assert _scopes(r.headers["WWW-Authenticate"]) == {"repository:team/m:delete"}
    async with http.delete(url, headers=await _token(http, reg, "alice", "repository:team/m:delete")) as r:
        assert r.status == 202, await r.text()


async def test_a_token_for_star_grants_every_action_the_user_holds(
    reg: RunningRegistry, http: aiohttp.ClientSession
) -> None:
    star = await _token(http, reg, "alice", "repository:team/m:*")
    async with http.delete(f"{reg.url}/v2/team/m/blobs/{sha(b'layer one')}", headers=star) as r:
        assert r.status == 202, await r.text()
    async with http.post(f"{reg.url}/v2/team/m/blobs/uploads/", headers=star) as r:
        assert r.status == 202
    bob_star = await _token(http, reg, "bob", "repository:team/m:*")
    async with http.get(f"{reg.url}/v2/team/m/tags/list", headers=bob_star) as r:
        assert r.status == 200
    async with http.delete(f"{reg.url}/v2/team/m/manifests/v1", headers=bob_star) as r:
        assert r.status == 403  # bob holds pull only: * gave him nothing more
        assert (await r.json())["errors"][0]["code"] == "DENIED"


async def test_a_token_missing_a_scope_its_user_holds_gets_401_insufficient_scope(
    reg: RunningRegistry, http: aiohttp.ClientSession
) -> None:
    pull = await _token(http, reg, "alice", "repository:team/m:pull")
    async with http.post(f"{reg.url}/v2/team/m/blobs/uploads/", headers=pull) as r:
        assert r.status == 401
        challenge = r.headers["WWW-Authenticate"]
        assert 'error="insufficient_scope"' in challenge
        assert 'realm="http://127.0.0.1' in challenge and 'service="ollama-py-registry"' in challenge
        assert _scopes(challenge) == {"repository:team/m:pull,push"}
    async with http.delete(f"{reg.url}/v2/team/m/manifests/v1", headers=pull) as r:
        assert r.status == 401 and 'error="insufficient_scope"' in r.headers["WWW-Authenticate"]
        assert _scopes(r.headers["WWW-Authenticate"]) == {"repository:team/m:delete"}
    bob = await _token(http, reg, "bob", "repository:team/m:pull,push")
    async with http.post(f"{reg.url}/v2/team/m/blobs/uploads/", headers=bob) as r:
        assert r.status == 403  # bob truly lacks push
        error = (await r.json())["errors"][0]
        assert error["code"] == "DENIED"
        assert "bob may not push to team/m (repository:team/m:push)" in error["message"], error


async def test_get_on_an_upload_session_needs_pull_only(
    reg: RunningRegistry, http: aiohttp.ClientSession
) -> None:
    push = await _token(http, reg, "alice", "repository:team/m:pull,push")
    async with http.post(f"{reg.url}/v2/team/m/blobs/uploads/", headers=push) as r:
        assert r.status == 202
        location = r.headers["Location"]
    pull = await _token(http, reg, "alice", "repository:team/m:pull")
    async with http.get(location, headers=pull) as r:
        assert r.status == 204, await r.text()
    async with http.delete(location, headers=push) as r:
        assert r.status == 204  # cancelling one's own upload is part of the push


async def test_a_mount_challenge_names_the_source_and_a_wider_token_mounts(
    reg: RunningRegistry, http: aiohttp.ClientSession
) -> None:
    url = f"{reg.url}/v2/team/n/blobs/uploads/"
    params = {"mount": sha(b"layer one"), "from": "team/m"}
    async with http.post(url, params=params) as r:
        assert r.status == 401
        assert _scopes(r.headers["WWW-Authenticate"]) == {
            "repository:team/n:pull,push",
            "repository:team/m:pull",
        }
    narrow = await _token(http, reg, "alice", "repository:team/n:pull,push")
    async with http.post(url, params=params, headers=narrow) as r:
        assert r.status == 401 and 'error="insufficient_scope"' in r.headers["WWW-Authenticate"]
        assert "repository:team/m:pull" in _scopes(r.headers["WWW-Authenticate"])
    wide = await _token(http, reg, "alice", "repository:team/n:pull,push", "repository:team/m:pull")
    async with http.post(url, params=params, headers=wide) as r:
        assert r.status == 201, await r.text()


async def test_scopes_in_one_space_separated_parameter_are_all_granted(
    reg: RunningRegistry, http: aiohttp.ClientSession
) -> None:
    both = await _token(http, reg, "alice", "repository:team/n:pull,push repository:team/m:pull")
    async with http.get(f"{reg.url}/v2/team/m/tags/list", headers=both) as r:
        assert r.status == 200
    async with http.post(f"{reg.url}/v2/team/n/blobs/uploads/", headers=both) as r:
        assert r.status == 202
