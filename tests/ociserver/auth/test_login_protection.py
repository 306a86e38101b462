"""Logins under attack: password checks apart from catalog work, failed-login limits (429 +
Retry-After), no user enumeration, and signed tokens whose claims are malformed (401, never 500)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import bcrypt
import pytest

from registry.errors import RateLimited
from registry.ociserver.auth.jwt_tokens import token_key
from registry.ociserver.auth.login_throttle import FailureWindow, address_key
from registry.ociserver.auth.password_check import PasswordVerifier
from registry.ociserver.settings import ServerSettings, load_config_file
from tests.support.registry_server import RunningRegistry, push_image, start_registry

SECRET = "0123456789abcdef0123456789abcdef"
STATIC = "static-token-0123456789"
#: Cost 10: slow enough that 32 checks on two threads take a good while, fast enough for a test.
SLOW_HASH = bcrypt.hashpw(b"secret", bcrypt.gensalt(10)).decode()
FAST_HASH = bcrypt.hashpw(b"secret", bcrypt.gensalt(4)).decode()


def _settings(tmp_path: Path, password_hash: str, extra: str = "") -> ServerSettings:
    path = tmp_path / "auth.toml"
    path.write_text(f"""
[auth]
token_secret = "{SECRET}"
password_threads = 2
{extra}
[[auth.users]]
name = "alice"
password_hash = "{password_hash}"
[[auth.users]]
name = "bob"
password_hash = "{password_hash}"
[[auth.tokens]]
name = "alice"
token = "{STATIC}"
""")
    return load_config_file(path, ServerSettings(root=tmp_path / "root", port=0, tag_cache_seconds=0))


def _basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


async def _hashes(http: aiohttp.ClientSession, reg: RunningRegistry) -> float:
    async with http.get(f"{reg.url}/metrics") as r:
        text = await r.text()
    match = re.search(r"^registry_password_hashes_total (\S+)$", text, re.M)
    assert match is not None, text
    return float(match.group(1))


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def _from(address: str) -> aiohttp.ClientSession:
    """A client whose connections come from ``address`` (any 127.0.0.0/8 address is loopback)."""
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(local_addr=(address, 0)))


async def test_catalog_and_cached_logins_answer_while_32_wrong_passwords_are_in_flight(
    tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    reg = await start_registry(_settings(tmp_path, SLOW_HASH, "max_failed_logins = 0"))
    try:
        bearer = {"Authorization": f"Bearer {STATIC}"}
        async with aiohttp.ClientSession(headers=bearer) as pusher:
            await push_image(pusher, reg.url, "team/m", "v1", b"{}", [b"layer"])
        async with http.get(f"{reg.url}/v2/token", headers=_basic("alice", "secret")) as r:
            assert r.status == 200  # alice's password is now verified (and remembered)

        async def wrong(i: int) -> int:
            async with http.get(f"{reg.url}/v2/token", headers=_basic("bob", f"guess-{i}")) as r:
                return r.status

        guesses = [asyncio.create_task(wrong(i)) for i in range(32)]
        await asyncio.wait(guesses, return_when=asyncio.FIRST_COMPLETED)
        # The password threads are busy now and ~30 guesses wait for them. Catalog work and a
        # remembered login must not wait behind them.
        async with http.get(f"{reg.url}/v2/team/m/tags/list", headers=bearer) as r:
            assert r.status == 200 and (await r.json())["tags"] == ["v1"]
        async with http.get(f"{reg.url}/v2/team/m/manifests/v1", headers=bearer) as r:
            assert r.status == 200
        async with http.get(f"{reg.url}/v2/token", headers=_basic("alice", "secret")) as r:
            assert r.status == 200 and "token" in await r.json()
        still_waiting = sum(not g.done() for g in guesses)
        statuses = await asyncio.gather(*guesses)
        assert statuses == [401] * 32
        assert still_waiting >= 16, f"valid requests waited for {32 - still_waiting} password checks"
    finally:
        await reg.stop()


async def test_failed_logins_are_limited_per_user_and_per_address(
    tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    reg = await start_registry(_settings(tmp_path, FAST_HASH, "max_failed_logins = 3"))
    try:
        for i in range(3):
            async with http.get(f"{reg.url}/v2/token", headers=_basic("alice", f"wrong{i}")) as r:
                assert r.status == 401
        # The right password no longer helps: the account is locked for a while, before any check.
        async with http.get(f"{reg.url}/v2/token", headers=_basic("alice", "secret")) as r:
            assert r.status == 429
            assert 1 <= int(r.headers["Retry-After"]) <= 60
            error = (await r.json())["errors"][0]
            assert error["code"] == "TOOMANYREQUESTS"
            assert "too many failed logins" in error["message"]
        async with http.get(f"{reg.url}/v2/", headers=_basic("alice", "secret")) as r:
            assert r.status == 429 and "Retry-After" in r.headers
        # Per address: this client may not try bob either.
        async with http.get(f"{reg.url}/v2/token", headers=_basic("bob", "secret")) as r:
            assert r.status == 429
        # A token needs no password: it still works from the same address.
        async with http.get(f"{reg.url}/v2/", headers={"Authorization": f"Bearer {STATIC}"}) as r:
            assert r.status == 200
        async with _from("127.0.0.2") as other:
            # Per user: alice stays locked from another address; bob is fine there.
            async with other.get(f"{reg.url}/v2/token", headers=_basic("alice", "secret")) as r:
                assert r.status == 429
            async with other.get(f"{reg.url}/v2/token", headers=_basic("bob", "secret")) as r:
                assert r.status == 200
    finally:
        await reg.stop()


async def test_unknown_users_count_as_failures_from_their_address(
    tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    reg = await start_registry(_settings(tmp_path, FAST_HASH, "max_failed_logins = 3"))
    try:
        for name in ("nobody1", "nobody2", "nobody3"):
            async with http.get(f"{reg.url}/v2/token", headers=_basic(name, "x")) as r:
                assert r.status == 401
        async with http.get(f"{reg.url}/v2/token", headers=_basic("alice", "secret")) as r:
            assert r.status == 429
        async with (
            _from("127.0.0.3") as other,
            other.get(f"{reg.url}/v2/token", headers=_basic("alice", "secret")) as r,
        ):
            assert r.status == 200
    finally:
        await reg.stop()


async def test_unknown_user_costs_one_hash_like_a_wrong_password(
    tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    reg = await start_registry(_settings(tmp_path, FAST_HASH))
    try:
        answers = []
        for user, password in (("alice", "wrong"), ("mallory", "wrong"), ("alice", "secret")):
            before = await _hashes(http, reg)
            async with http.get(f"{reg.url}/v2/token", headers=_basic(user, password)) as r:
                answers.append((r.status, await r.read() if r.status == 401 else b""))
            assert await _hashes(http, reg) == before + 1, (user, password)
        assert answers[0] == answers[1]  # same status, same body: nothing tells the users apart
        assert answers[2][0] == 200
        before = await _hashes(http, reg)
        async with http.get(f"{reg.url}/v2/token", headers=_basic("alice", "secret")) as r:
            assert r.status == 200
        assert await _hashes(http, reg) == before  # a verified password is remembered
    finally:
        await reg.stop()


async def test_identical_concurrent_logins_share_one_hash(
    tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    reg = await start_registry(_settings(tmp_path, SLOW_HASH))
    try:
        before = await _hashes(http, reg)

        async def login() -> int:
            async with http.get(f"{reg.url}/v2/token", headers=_basic("bob", "secret")) as r:
                return r.status

        assert await asyncio.gather(*(login() for _ in range(12))) == [200] * 12
        assert await _hashes(http, reg) == before + 1
    finally:
        await reg.stop()


def _signed(payload: bytes) -> str:
    """A JWT (HS256 under the registry's secret, so the signature is right) whose payload is
    exactly ``payload``, however malformed."""
    header = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT"}').rstrip(b"=").decode()
    body = base64.urlsafe_b64encode(payload).rstrip(b"=").decode()
    signature = hmac.new(token_key(SECRET.encode()), f"{header}.{body}".encode(), hashlib.sha256).digest()
    return f"{header}.{body}.{base64.urlsafe_b64encode(signature).rstrip(b'=').decode()}"


def _claims(**claims: object) -> str:
    base: dict[str, object] = {
        "iss": "ollama-py-registry",
        "aud": "ollama-py-registry",
        "sub": "alice",
        "exp": 4102444800,
        "access": [{"type": "repository", "name": "team/m", "actions": ["pull"]}],
    }
    base.update(claims)
    return _signed(json.dumps({k: v for k, v in base.items() if v is not _DROP}).encode())


_DROP = object()

#: Signed tokens (so the signature is right) whose claims are wrong in every way we could think of.
MALFORMED_TOKENS = {
    "exp text": _claims(exp="tomorrow"),
    "exp missing": _claims(exp=_DROP),
    "exp null": _claims(exp=None),
    "exp list": _claims(exp=[1]),
    "exp bool": _claims(exp=True),
    "exp object": _claims(exp={"a": 1}),
    "exp NaN": _signed(b'{"sub":"alice","exp":NaN,"access":{}}'),
    "exp -Infinity": _signed(b'{"sub":"alice","exp":-Infinity,"access":{}}'),
    "exp 1e999 (inf)": _signed(b'{"sub":"alice","exp":1e999,"access":{}}'),
    "exp past": _claims(exp=1),
    "exp 5000 digits": _signed(b'{"sub":"alice","exp":' + b"9" * 5000 + b',"access":{}}'),
    "sub missing": _claims(sub=_DROP),
    "sub number": _claims(sub=5),
    "sub empty": _claims(sub=""),
    "sub object": _claims(sub={"name": "alice"}),
    "access text": _claims(access="team/m:pull"),
    "access list": _claims(access=[["team/m", "pull"]]),
    "access value text": _claims(access={"team/m": "pull"}),
    "access value numbers": _claims(access={"team/m": [1, 2]}),
    "access value object": _claims(access={"team/m": {"pull": True}}),
    "access actions numbers": _claims(access=[{"type": "repository", "name": "team/m", "actions": [1]}]),
    "access entry without name": _claims(access=[{"type": "repository", "actions": ["pull"]}]),
    "issuer other": _claims(iss="someone-else"),
    "issuer missing": _claims(iss=_DROP),
    "audience other": _claims(aud="another-registry"),
    "audience missing": _claims(aud=_DROP),
    "nbf future": _claims(nbf=4102444800),
    "alg none": "eyJhbGciOiJub25lIn0."
    + base64.urlsafe_b64encode(b'{"sub":"alice"}').rstrip(b"=").decode()
    + ".",
    "old two-part format": _signed(b'{"sub":"alice"}').split(".", 1)[1],
    "payload list": _signed(b"[1, 2]"),
    "payload text": _signed(b'"alice"'),
    "payload null": _signed(b"null"),
    "payload not JSON": _signed(b"{nope"),
    "payload not UTF-8": _signed(b'{"sub":"\xff"}'),
    "payload nested 2500 deep": _signed(b"[" * 2500 + b"]" * 2500),
    "body not base64": "!!!!."
    + base64.urlsafe_b64encode(hmac.new(token_key(SECRET.encode()), b"!!!!", hashlib.sha256).digest())
    .rstrip(b"=")
    .decode(),
    "non-ASCII token": "é.é",
    "no signature": "abc.",
    "only dots": "...",
}


async def test_signed_tokens_with_malformed_claims_are_401_not_500(
    tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    reg = await start_registry(_settings(tmp_path, FAST_HASH))
    try:
        async with http.get(
            f"{reg.url}/v2/team/m/tags/list", headers={"Authorization": f"Bearer {_claims()}"}
        ) as r:
            assert r.status == 404  # the well-formed token is accepted (the repository has no tags)
        huge = _signed(
            json.dumps(
                {"iss": "ollama-py-registry", "aud": "ollama-py-registry", "sub": "alice", "exp": 10**400}
            ).encode()
        )
        async with http.get(f"{reg.url}/v2/", headers={"Authorization": f"Bearer {huge}"}) as r:
            assert r.status == 200  # a signed, unexpiring token: odd but well formed, no overflow
        for case, token in MALFORMED_TOKENS.items():
            headers = {"Authorization": f"Bearer {token}"}
            async with http.get(f"{reg.url}/v2/team/m/tags/list", headers=headers) as r:
                assert r.status == 401, (case, r.status, await r.text())
                assert (await r.json())["errors"][0]["code"] == "UNAUTHORIZED", case
        for value in (
            "Basic é",
            "Basic " + "A" * 6000,
            "Basic ====",
            "Basic " + base64.b64encode(b"\xff:x").decode(),
        ):
            async with http.get(f"{reg.url}/v2/", headers={"Authorization": value}) as r:
                assert r.status == 401, (value[:20], r.status, await r.text())
    finally:
        await reg.stop()


async def test_challenge_never_echoes_control_characters(tmp_path: Path, http: aiohttp.ClientSession) -> None:
    """A 401's ``WWW-Authenticate`` names the repository only when it is safe inside quotes (a
    control character there made aiohttp drop the response: the connection closed unanswered)."""
    from yarl import URL

    reg = await start_registry(_settings(tmp_path, FAST_HASH))
    try:
        for name in ("%08", "a%0A", "a%22b", "a%0D%0ASet-Cookie:x"):
            async with http.put(URL(f"{reg.url}/v2/{name}/manifests/v1", encoded=True), data=b"{}") as r:
                assert r.status == 401, name
                assert "scope=" not in r.headers["WWW-Authenticate"], name
        async with http.put(f"{reg.url}/v2/team/m/manifests/v1", data=b"{}") as r:
            assert r.status == 401
            assert 'scope="repository:team/m:pull,push"' in r.headers["WWW-Authenticate"]
    finally:
        await reg.stop()


def test_failure_window_slides_and_says_how_long_to_wait() -> None:
    now = [1000.0]
    window = FailureWindow(3, 60.0, max_keys=2, clock=lambda: now[0])
    for _ in range(3):
        assert window.retry_after("user:a") == 0
        window.begin("user:a")
        window.end("user:a", failed=True)
        now[0] += 10
    assert window.retry_after("user:a") == 30  # now 1030; the oldest failure (1000) leaves at 1060
    now[0] = 1060.5
    assert window.retry_after("user:a") == 0
    window.begin("user:b")
    window.begin("user:b")
    window.begin("user:b")
    assert window.retry_after("user:b") == 1  # checks in flight count against the limit
    for _ in range(3):
        window.end("user:b", failed=False)
    assert window.retry_after("user:b") == 0
    for key in ("k1", "k2", "k3"):  # at most max_keys keys are remembered
        window.end(key, failed=True)
    assert len(window._failures) <= 2
    assert address_key("2001:db8::1") == address_key("2001:db8::ffff") != address_key("2001:db8:0:1::1")
    assert address_key("::ffff:10.0.0.1") == address_key("10.0.0.1") == "addr:10.0.0.1"


async def test_password_checks_beyond_the_pending_bound_are_refused() -> None:
    verifier = PasswordVerifier({"alice": SLOW_HASH}, threads=1, max_pending=2, ttl=60)
    try:
        first = verifier.check("alice", "guess-1")
        second = verifier.check("alice", "guess-2")
        assert verifier.check("alice", "guess-1").future is first.future  # joined, not a new check
        with pytest.raises(RateLimited, match="too many password checks"):
            verifier.check("alice", "guess-3")
        assert await first.future is False and await second.future is False
        right = verifier.check("alice", "secret")
        assert right.started and await right.future is True
        again = verifier.check("alice", "secret")
        assert not again.started and again.future.done() and again.future.result() is True
    finally:
        verifier.close()
