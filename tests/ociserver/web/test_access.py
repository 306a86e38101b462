"""Who sees what on the web page: only repositories the caller may pull; with anonymous pulls off,
a sign-in form whose session cookie is HttpOnly and SameSite=Strict; no password in pages or logs."""

from __future__ import annotations

import base64
import logging
from collections.abc import AsyncIterator
from dataclasses import replace
from http.cookies import SimpleCookie
from pathlib import Path

import aiohttp
import bcrypt
import pytest
from yarl import URL

from registry.ociserver.settings import ServerSettings, load_config_file
from tests.support.registry_server import RunningRegistry, push_image, start_registry

Http = aiohttp.ClientSession

PASSWORD = "correct horse battery"
HASH = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(4)).decode()
REPOS = ("alice/private", "bob/private", "shared/common")


def _settings(tmp_path: Path, anonymous_pull: bool) -> ServerSettings:
    path = tmp_path / "auth.toml"
    users = "".join(
        f'[[auth.users]]\nname = "{u}"\npassword_hash = "{HASH}"\n' for u in ("alice", "bob", "admin")
    )
    path.write_text(
        f"""
[auth]
token_secret = "0123456789abcdef0123456789abcdef"
anonymous_pull = {"true" if anonymous_pull else "false"}
{users}
[[auth.rules]]
repository = "**"
users = ["admin"]
actions = ["pull", "push", "delete"]
[[auth.rules]]
repository = "alice/**"
users = ["alice"]
actions = ["pull"]
[[auth.rules]]
repository = "bob/**"
users = ["bob"]
actions = ["pull"]
[[auth.rules]]
repository = "shared/*"
users = ["*"]
actions = ["pull"]
"""
    )
    return load_config_file(path, ServerSettings(root=tmp_path / "root", port=0, tag_cache_seconds=0))


def _basic(user: str, password: str = PASSWORD) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


async def _start(tmp_path: Path, anonymous_pull: bool) -> RunningRegistry:
    server = await start_registry(_settings(tmp_path, anonymous_pull))
    async with aiohttp.ClientSession(headers=_basic("admin")) as admin:
        for repo in REPOS:
            await push_image(admin, server.url, repo, "latest", b"{}", [repo.encode()])
    return server


@pytest.fixture
async def closed(tmp_path: Path) -> AsyncIterator[RunningRegistry]:
    """A registry with auth and anonymous pulls off, holding ``REPOS``."""
    server = await _start(tmp_path, anonymous_pull=False)
    yield server
    await server.stop()


async def _sign_in(
    http: Http, reg: RunningRegistry, user: str, password: str = PASSWORD
) -> aiohttp.ClientResponse:
    form = {"username": user, "password": password, "next": "/ui/models/shared/common"}
    async with http.post(
        f"{reg.url}/ui/login", data=form, headers={"Origin": reg.url}, allow_redirects=False
    ) as r:
        await r.read()
        return r


async def _names(http: Http, reg: RunningRegistry, headers: dict[str, str]) -> list[str]:
    async with http.get(f"{reg.url}/ui/api/models", headers=headers) as r:
        assert r.status == 200, await r.text()
        return [m["name"] for m in (await r.json())["models"]]


async def test_anonymous_gets_the_sign_in_form_and_the_api_a_401(closed: RunningRegistry, http: Http) -> None:
    async with http.get(f"{closed.url}/ui/?q=x", allow_redirects=False) as r:
        assert r.status == 302
        target = URL(r.headers["Location"])
        assert target.path == "/ui/login" and target.query["next"] == "/ui/?q=x"
    async with http.get(f"{closed.url}/ui/login") as r:
        page = await r.text()
        assert 'id="login"' in page and 'type="password"' in page
    for path in ("/ui/api/models", "/ui/api/models/shared/common"):
        async with http.get(f"{closed.url}{path}") as r:
            assert r.status == 401
            assert "WWW-Authenticate" in r.headers


async def test_a_user_sees_only_what_it_may_pull(closed: RunningRegistry, http: Http) -> None:
    response = await _sign_in(http, closed, "alice")
    assert response.status == 303
    assert response.headers["Location"] == "/ui/models/shared/common"
    morsel = SimpleCookie(response.headers["Set-Cookie"])["ollama_py_session"]
    assert morsel["httponly"] is True
    assert morsel["samesite"] == "Strict"
    assert morsel["path"] == "/"
    assert PASSWORD not in response.headers["Set-Cookie"]
    cookie = {"Cookie": f"ollama_py_session={morsel.value}"}
    assert await _names(http, closed, cookie) == ["alice/private", "shared/common"]
    async with http.get(f"{closed.url}/ui/", headers=cookie) as r:
        page = await r.text()
    assert "alice/private" in page and "shared/common" in page and "bob/private" not in page
    assert 'id="who">alice<' in page
    async with http.get(f"{closed.url}/ui/models/bob/private", headers=cookie) as r:
        assert r.status == 404
    async with http.get(f"{closed.url}/ui/api/models/bob/private", headers=cookie) as r:
        assert r.status == 404
    # Scripts authenticate as on /v2/: Basic credentials (or a token) on each request.
    assert await _names(http, closed, _basic("bob")) == ["bob/private", "shared/common"]
    assert await _names(http, closed, _basic("admin")) == list(REPOS)
    # A session value is no Bearer token, and a forged one is no session.
    async with http.get(
        f"{closed.url}/v2/_catalog", headers={"Authorization": f"Bearer {morsel.value}"}
    ) as r:
        assert r.status == 401
    forged = morsel.value[:-2] + ("AA" if not morsel.value.endswith("AA") else "BB")
    async with http.get(
        f"{closed.url}/ui/", headers={"Cookie": f"ollama_py_session={forged}"}, allow_redirects=False
    ) as r:
        assert r.status == 302


async def test_a_scoped_token_narrows_what_the_page_lists(closed: RunningRegistry, http: Http) -> None:
    url = f"{closed.url}/v2/token?service=x&scope=repository:alice/private:pull"
    async with http.get(url, headers=_basic("alice")) as r:
        token = (await r.json())["token"]
    assert await _names(http, closed, {"Authorization": f"Bearer {token}"}) == ["alice/private"]


async def test_a_session_outlives_a_restart_but_not_its_user(tmp_path: Path, http: Http) -> None:
    first = await _start(tmp_path, anonymous_pull=False)
    try:
        response = await _sign_in(http, first, "alice")
        value = SimpleCookie(response.headers["Set-Cookie"])["ollama_py_session"].value
    finally:
        await first.stop()
    cookie = {"Cookie": f"ollama_py_session={value}"}
    settings = _settings(tmp_path, anonymous_pull=False)
    second = await start_registry(settings)  # same token_secret: still signed in
    try:
        assert await _names(http, second, cookie) == ["alice/private", "shared/common"]
    finally:
        await second.stop()
    users = {name: hashed for name, hashed in settings.auth.users.items() if name != "alice"}  # type: ignore[union-attr]
    third = await start_registry(replace(settings, auth=replace(settings.auth, users=users)))  # type: ignore[arg-type]
    try:
        async with http.get(f"{third.url}/ui/", headers=cookie, allow_redirects=False) as r:
            assert r.status == 302  # alice is gone: back to the sign-in form
    finally:
        await third.stop()


async def test_sign_out_drops_the_session(closed: RunningRegistry, http: Http) -> None:
    response = await _sign_in(http, closed, "bob")
    value = SimpleCookie(response.headers["Set-Cookie"])["ollama_py_session"].value
    async with http.post(
        f"{closed.url}/ui/logout",
        headers={"Origin": closed.url, "Cookie": f"ollama_py_session={value}"},
        allow_redirects=False,
    ) as r:
        assert r.status == 303
        gone = SimpleCookie(r.headers["Set-Cookie"])["ollama_py_session"]
        assert gone.value == "" and gone["max-age"] == "0"


async def test_wrong_password_and_foreign_origin_are_refused_without_echoing_secrets(
    closed: RunningRegistry, http: Http, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "wrong-<b>password</b>"
    async with http.post(
        f"{closed.url}/ui/login",
        data={"username": "<i>alice</i>", "password": wrong},
        headers={"Origin": closed.url},
        allow_redirects=False,
    ) as r:
        assert r.status == 401
        page = await r.text()
        assert "Set-Cookie" not in r.headers
    assert "Wrong user name or password." in page
    assert "password</b>" not in page and "wrong-" not in page
    assert "&lt;i&gt;alice&lt;/i&gt;" in page  # the user name is kept in the form, escaped
    async with http.post(
        f"{closed.url}/ui/login",
        data={"username": "alice", "password": PASSWORD},
        headers={"Origin": "http://evil.example"},
        allow_redirects=False,
    ) as r:
        assert r.status == 403
        assert "Set-Cookie" not in r.headers
    response = await _sign_in(http, closed, "alice")
    assert response.status == 303
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert PASSWORD not in logged and wrong not in logged


async def test_open_redirects_are_refused(closed: RunningRegistry, http: Http) -> None:
    for target in ("//evil.example/", "https://evil.example/", "/v2/_catalog"):
        form = {"username": "alice", "password": PASSWORD, "next": target}
        async with http.post(
            f"{closed.url}/ui/login", data=form, headers={"Origin": closed.url}, allow_redirects=False
        ) as r:
            assert r.headers["Location"] == "/ui/"


async def test_anonymous_pull_shows_everything_without_signing_in(tmp_path: Path, http: Http) -> None:
    server = await _start(tmp_path, anonymous_pull=True)
    try:
        assert await _names(http, server, {}) == list(REPOS)
        async with http.get(f"{server.url}/ui/") as r:
            page = await r.text()
        assert 'id="sign-in"' in page
    finally:
        await server.stop()


async def test_without_auth_there_is_no_sign_in(registry: RunningRegistry, http: Http) -> None:
    async with http.get(f"{registry.url}/ui/login") as r:
        assert r.status == 404
    async with http.get(f"{registry.url}/ui/") as r:
        assert 'id="sign-in"' not in await r.text()
