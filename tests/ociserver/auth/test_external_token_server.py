"""Issue 12: the registry trusts an external Docker token server (``[auth.token_server]``), as
distribution's ``auth.token`` does: its challenges name that realm and service, and it verifies the
server's RS256 tokens with the public keys from a PEM certificate bundle or a JWKS URL.

The token server is a real app on 127.0.0.1 (tests/support/token_server.py) with a key generated
per test; the registry is a real server on another port.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import jwt
import pytest

from registry.errors import InvalidInput, Unauthorized
from registry.ociserver.auth.jwt_tokens import TokenVerifier, token_key
from registry.ociserver.auth.token_keys import TrustedKey, keys_from_jwks
from registry.ociserver.settings import ServerSettings, load_config_file
from registry.store.library import Library
from tests.support.cli_process import run_cli
from tests.support.models import make_model
from tests.support.registry_server import RunningRegistry, push_image, sha, start_registry
from tests.support.token_server import ISSUER, SERVICE, TokenServer, foreign_token, start_token_server

ALL = ["pull", "push", "delete"]


def _dead_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
async def token_server() -> AsyncIterator[TokenServer]:
    server = TokenServer(
        users={"alice": "alice-pw", "bob": "bob-pw"},
        grants={
            "alice": {"team/m": frozenset(ALL), "team/other": frozenset(ALL)},
            "bob": {"team/m": frozenset({"pull"})},
        },
    )
    runner = await start_token_server(server)
    try:
        yield server
    finally:
        await runner.cleanup()


def _config(tmp_path: Path, server: TokenServer, keys: str) -> ServerSettings:
    path = tmp_path / "registry.toml"
    path.write_text(f"""
[auth]
anonymous_pull = false
[auth.token_server]
realm = "{server.url}/token"
service = "{SERVICE}"
issuer = "{ISSUER}"
{keys}
""")
    return load_config_file(path, ServerSettings(root=tmp_path / "root", port=0, tag_cache_seconds=0))


def _bundle(tmp_path: Path, server: TokenServer) -> str:
    bundle = tmp_path / "token-server.pem"
    bundle.write_bytes(server.cert_pem)
    return f'root_cert_bundle = "{bundle}"'


@pytest.fixture(params=["cert-bundle", "jwks-url"])
async def reg(
    request: pytest.FixtureRequest, tmp_path: Path, token_server: TokenServer
) -> AsyncIterator[RunningRegistry]:
    keys = (
        _bundle(tmp_path, token_server)
        if request.param == "cert-bundle"
        else f'jwks = "{token_server.url}/jwks.json"'
    )
    registry = await start_registry(_config(tmp_path, token_server, keys))
    try:
        yield registry
    finally:
        await registry.stop()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def _params(challenge: str) -> dict[str, str]:
    assert challenge.startswith("Bearer "), challenge
    out = {}
    for part in challenge.removeprefix("Bearer ").split('",'):
        key, _, value = part.partition("=")
        out[key.strip()] = value.strip('"')
    return out


async def _follow(http: aiohttp.ClientSession, challenge: str, user: str, password: str) -> dict[str, str]:
    """What a Docker client does with a challenge: ask its realm for its scope, with Basic."""
    params = _params(challenge)
    basic = base64.b64encode(f"{user}:{password}".encode()).decode()
    query = {"service": params["service"], "scope": params["scope"]}
    async with http.get(params["realm"], params=query, headers={"Authorization": f"Basic {basic}"}) as r:
        assert r.status == 200, await r.text()
        return {"Authorization": f"Bearer {(await r.json())['token']}"}


def _grant(repo: str, *actions: str) -> list[dict[str, object]]:
    return [{"type": "repository", "name": repo, "actions": list(actions)}]


async def _error(r: aiohttp.ClientResponse) -> str:
    body = await r.json()
    return str(body["errors"][0]["message"])


async def test_a_client_following_the_challenge_pushes_and_pulls_with_the_servers_tokens(
    reg: RunningRegistry, token_server: TokenServer, http: aiohttp.ClientSession
) -> None:
    async with http.post(f"{reg.url}/v2/team/m/blobs/uploads/") as r:
        assert r.status == 401
        challenge = r.headers["WWW-Authenticate"]
    params = _params(challenge)
    assert params["realm"] == f"{token_server.url}/token"
    assert params["service"] == SERVICE
    assert params["scope"] == "repository:team/m:pull,push"
    alice = await _follow(http, challenge, "alice", "alice-pw")
    async with aiohttp.ClientSession(headers=alice) as as_alice:
        await push_image(as_alice, reg.url, "team/m", "v1", b"{}", [b"layer"])
    async with http.get(f"{reg.url}/v2/team/m/manifests/v1") as r:
        assert r.status == 401
        bob = await _follow(http, r.headers["WWW-Authenticate"], "bob", "bob-pw")
    async with http.get(f"{reg.url}/v2/team/m/blobs/{sha(b'layer')}", headers=bob) as r:
        assert r.status == 200
        assert await r.read() == b"layer"


async def test_the_registry_issues_no_tokens_and_refuses_basic(
    reg: RunningRegistry, token_server: TokenServer, http: aiohttp.ClientSession
) -> None:
    async with http.get(f"{reg.url}/v2/token", params={"scope": "repository:team/m:pull"}) as r:
        assert r.status == 404
        assert token_server.url in await _error(r)
    basic = base64.b64encode(b"alice:alice-pw").decode()
    async with http.get(f"{reg.url}/v2/team/m/tags/list", headers={"Authorization": f"Basic {basic}"}) as r:
        assert r.status == 401
        assert "only bearer tokens from its token server" in await _error(r)
        assert _params(r.headers["WWW-Authenticate"])["realm"] == f"{token_server.url}/token"


@pytest.mark.parametrize(
    ("forge", "message"),
    [
        ("foreign-key", "signature does not verify with any trusted key"),
        ("wrong-issuer", "not the trusted issuer 'test-token-issuer'"),
        ("wrong-audience", "is not this registry's service 'test-registry-service'"),
        ("expired", "token expired"),
        ("not-yet-valid", "not valid yet"),
        ("no-expiry", "'exp' claim is missing"),
        ("malformed-access", "access must be a list"),
        ("not-a-jwt", "not a well-formed JWT"),
    ],
)
async def test_a_bad_token_is_401_with_a_message_saying_what_is_wrong(
    reg: RunningRegistry, token_server: TokenServer, http: aiohttp.ClientSession, forge: str, message: str
) -> None:
    access = _grant("team/m", *ALL)
    now = int(time.time())
    token = {
        "foreign-key": lambda: foreign_token("alice", access),
        "wrong-issuer": lambda: token_server.mint("alice", access, iss="someone-else"),
        "wrong-audience": lambda: token_server.mint("alice", access, aud="another-registry"),
        "expired": lambda: token_server.mint("alice", access, exp=now - 3600, iat=now - 4000, nbf=now - 4000),
        "not-yet-valid": lambda: token_server.mint("alice", access, nbf=now + 3600, iat=now + 3600),
        "no-expiry": lambda: jwt.encode(
            {"iss": ISSUER, "aud": SERVICE, "sub": "alice", "access": access},
            token_server.key,
            algorithm="RS256",
        ),
        "malformed-access": lambda: token_server.mint("alice", {"team/m": ALL}),  # type: ignore[arg-type]
        "not-a-jwt": lambda: "a.b.c",
    }[forge]()
    async with http.get(f"{reg.url}/v2/team/m/tags/list", headers={"Authorization": f"Bearer {token}"}) as r:
        assert r.status == 401
        assert message in await _error(r)
        assert _params(r.headers["WWW-Authenticate"])["realm"] == f"{token_server.url}/token"


async def test_an_hmac_token_is_refused(
    reg: RunningRegistry, token_server: TokenServer, http: aiohttp.ClientSession
) -> None:
    """The algorithm-confusion attack: an HMAC token, whatever its secret, verifies with no key."""
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "aud": SERVICE,
        "sub": "alice",
        "exp": now + 60,
        "access": _grant("team/m", *ALL),
    }
    forged = jwt.encode(claims, b"x" * 32, algorithm="HS256")
    async with http.get(f"{reg.url}/v2/team/m/tags/list", headers={"Authorization": f"Bearer {forged}"}) as r:
        assert r.status == 401
        assert "no trusted key verifies HS256 signatures" in await _error(r)


async def test_a_token_missing_a_scope_is_401_insufficient_scope_naming_it(
    reg: RunningRegistry, token_server: TokenServer, http: aiohttp.ClientSession
) -> None:
    pull_only = {"Authorization": f"Bearer {token_server.mint('alice', _grant('team/m', 'pull'))}"}
    async with http.post(f"{reg.url}/v2/team/m/blobs/uploads/", headers=pull_only) as r:
        assert r.status == 401
        params = _params(r.headers["WWW-Authenticate"])
        assert params["error"] == "insufficient_scope"
        assert params["scope"] == "repository:team/m:pull,push"
    async with http.get(f"{reg.url}/v2/team/other/tags/list", headers=pull_only) as r:
        assert r.status == 401  # another repository: the token names none of it
        assert _params(r.headers["WWW-Authenticate"])["scope"] == "repository:team/other:pull"
    async with http.get(f"{reg.url}/v2/team/m/tags/list", headers=pull_only) as r:
        assert r.status != 401  # (404: nothing pushed yet) the scope it holds is honoured


async def test_the_jwks_url_is_fetched_again_for_a_key_id_it_does_not_hold(
    tmp_path: Path, token_server: TokenServer, http: aiohttp.ClientSession
) -> None:
    registry = await start_registry(_config(tmp_path, token_server, f'jwks = "{token_server.url}/jwks.json"'))
    try:
        token = {"Authorization": f"Bearer {token_server.mint('alice', _grant('team/m', 'pull'))}"}
        for _ in range(3):
            async with http.get(f"{registry.url}/v2/team/m/tags/list", headers=token) as r:
                assert r.status == 404  # verified; the repository is empty
        assert token_server.requests.count("jwks") == 1  # fetched once, then held
    finally:
        await registry.stop()


async def test_the_builtin_token_endpoint_issues_jwts_with_dockers_claims(tmp_path: Path) -> None:
    path = tmp_path / "registry.toml"
    path.write_text('[auth]\ntoken_secret = "0123456789abcdef0123456789abcdef"\nanonymous_pull = true\n')
    settings = load_config_file(path, ServerSettings(root=tmp_path / "root", port=0, tag_cache_seconds=0))
    registry = await start_registry(settings)
    try:
        async with (
            aiohttp.ClientSession() as http,
            http.get(
                f"{registry.url}/v2/token",
                params={"service": "ollama-py-registry", "scope": "repository:lib/m:pull"},
            ) as r,
        ):
            assert r.status == 200
            token = (await r.json())["token"]
        claims = jwt.decode(
            token,
            token_key(b"0123456789abcdef0123456789abcdef"),
            algorithms=["HS256"],
            audience="ollama-py-registry",
            issuer="ollama-py-registry",
        )
        assert set(claims) == {"iss", "sub", "aud", "exp", "nbf", "iat", "jti", "access"}
        assert claims["sub"] == "anonymous"
        assert claims["access"] == [{"type": "repository", "name": "lib/m", "actions": ["pull"]}]
        assert claims["exp"] - claims["iat"] == 300
    finally:
        await registry.stop()


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('realm = "http://t/token"\nservice = "s"\nisuer = "i"\njwks = "x"\n', "did you mean 'issuer'"),
        ('realm = "http://t/token"\nservice = "s"\nissuer = "i"\n', "public keys"),
        ('realm = "t/token"\nservice = "s"\nissuer = "i"\njwks = "http://t/jwks"\n', "http:// or https://"),
        ('realm = "http://t/token"\nissuer = "i"\njwks = "http://t/jwks"\n', "token_server.service"),
        (
            'realm = "http://t/token"\nservice = "s"\nissuer = "i"\nroot_cert_bundle = "/nonexistent.pem"\n',
            "cannot read",
        ),
    ],
)
def test_token_server_config_mistakes_are_errors(tmp_path: Path, table: str, message: str) -> None:
    path = tmp_path / "registry.toml"
    path.write_text(f"[auth]\n[auth.token_server]\n{table}")
    with pytest.raises(InvalidInput, match=message):
        load_config_file(path, ServerSettings(root=tmp_path / "root", port=0))


def test_a_bundle_that_is_not_pem_and_rules_beside_a_token_server_are_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.pem"
    bad.write_text("not a certificate")
    path = tmp_path / "registry.toml"
    head = '[auth.token_server]\nrealm = "http://t/token"\nservice = "s"\nissuer = "i"\n'
    path.write_text(f'[auth]\n{head}root_cert_bundle = "{bad}"\n')
    with pytest.raises(InvalidInput, match="not a PEM certificate bundle"):
        load_config_file(path, ServerSettings(root=tmp_path / "root", port=0))
    path.write_text(
        f'[auth]\n[[auth.rules]]\nrepository = "**"\nactions = ["pull"]\n{head}jwks = "http://t/jwks"\n'
    )
    with pytest.raises(InvalidInput, match=r"do not apply with \[auth.token_server\]"):
        load_config_file(path, ServerSettings(root=tmp_path / "root", port=0))


async def test_a_verified_token_is_remembered_by_its_exact_text(token_server: TokenServer) -> None:
    """One signature check per token, however many requests carry it; a token that differs in
    any character (a payload with more access, the same signature) is checked afresh and refused."""
    keys = keys_from_jwks(token_server.jwks(), "test")
    lookups: list[str | None] = []

    async def lookup(kid: str | None, alg: str) -> list[TrustedKey]:
        lookups.append(kid)
        return [key for key in keys if alg in key.algorithms]

    verifier = TokenVerifier(lookup, issuer=ISSUER, service=SERVICE)
    token = token_server.mint("alice", _grant("team/m", "pull"))
    for _ in range(3):
        claims = await verifier.verify(token)
        assert claims.subject == "alice" and claims.access == {"team/m": frozenset({"pull"})}
    assert len(lookups) == 1
    header, _, signature = token.split(".")
    wider = token_server.mint("alice", _grant("team/m", *ALL)).split(".")[1]
    with pytest.raises(Unauthorized, match="signature does not verify"):
        await verifier.verify(f"{header}.{wider}.{signature}")


async def test_ollama_py_pushes_and_pulls_through_the_token_server_with_its_own_credentials(
    reg: RunningRegistry, token_server: TokenServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The CLI follows the challenge to a realm on another host with the credentials stored for
    that host (never the registry's); without them it says which host needs a login."""
    monkeypatch.setenv("OLLAMA_HOST", f"127.0.0.1:{_dead_port()}")  # in process
    realm_host = token_server.url.removeprefix("http://")
    login = base64.b64encode(b"alice:alice-pw").decode()
    source, target, stranger = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    for store in (source, target):
        (store / "docker").mkdir(parents=True)
        (store / "docker" / "config.json").write_text(json.dumps({"auths": {realm_host: {"auth": login}}}))
    library = Library.open(source)
    make_model(library, "m", weights=b"GGUF" + os.urandom(50_000), system="via the token server")
    library.close()
    name = f"{reg.host}/team/m:v1"
    assert (await run_cli(source, "cp", "m", name))[0] == 0
    code, out = await run_cli(source, "push", "--insecure", name)
    assert code == 0, out
    code, out = await run_cli(target, "pull", "--insecure", name)
    assert code == 0, out
    assert await run_cli(target, "show", "--system", name) == (0, "via the token server\n")
    code, out = await run_cli(stranger, "pull", "--insecure", name)
    assert code == 1
    assert f"{realm_host}, the token server of {reg.host}, needs a login" in out


async def test_a_short_token_secret_still_signs_and_checks_tokens(tmp_path: Path) -> None:
    """The HS256 key is derived from ``token_secret`` (32 bytes whatever its length), so PyJWT's
    short-key warning (an error under this suite's warning filter) never fires per request."""
    path = tmp_path / "registry.toml"
    path.write_text('[auth]\ntoken_secret = "short"\nanonymous_pull = true\n')
    settings = load_config_file(path, ServerSettings(root=tmp_path / "root", port=0, tag_cache_seconds=0))
    registry = await start_registry(settings)
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{registry.url}/v2/token", params={"scope": "repository:lib/m:pull"}) as r:
                assert r.status == 200
                token = (await r.json())["token"]
            async with http.get(
                f"{registry.url}/v2/lib/m/tags/list", headers={"Authorization": f"Bearer {token}"}
            ) as r:
                assert r.status == 404  # verified; nothing pushed
    finally:
        await registry.stop()


async def test_es256_tokens_verify_with_a_jwks_file(tmp_path: Path, http: aiohttp.ClientSession) -> None:
    """An EC (P-256) token server, its key in a JWKS file: ES256 tokens verify, RS256 ones do not."""
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    jwk = jwt.algorithms.ECAlgorithm.to_jwk(key.public_key(), as_dict=True)
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps({"keys": [{**jwk, "kid": "ec-1", "use": "sig"}]}))
    server = TokenServer({}, {}, url="http://127.0.0.1:9")  # (realm only: nothing asks it here)
    registry = await start_registry(_config(tmp_path, server, f'jwks = "{jwks}"'))
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "aud": SERVICE,
        "sub": "alice",
        "exp": now + 60,
        "access": _grant("team/m", "pull"),
    }
    try:
        es256 = jwt.encode(claims, key, algorithm="ES256", headers={"kid": "ec-1"})
        async with http.get(
            f"{registry.url}/v2/team/m/tags/list", headers={"Authorization": f"Bearer {es256}"}
        ) as r:
            assert r.status == 404  # verified; nothing pushed
        rs256 = server.mint("alice", _grant("team/m", "pull"))
        async with http.get(
            f"{registry.url}/v2/team/m/tags/list", headers={"Authorization": f"Bearer {rs256}"}
        ) as r:
            assert r.status == 401
            assert "no trusted key verifies RS256 signatures" in await _error(r)
    finally:
        await registry.stop()
