"""Auth pieces: challenge parsing, docker config credentials, Basic auth against the upstream."""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from pathlib import Path

import pytest

from registry.errors import InvalidInput, Unauthorized
from registry.oci.challenge import parse_challenges
from registry.remote.credentials import BasicCredentials, CredentialStore, normalise_host
from registry.remote.signing import OllamaKey
from registry.store.library import Library
from tests.remote.helpers import FAST, name_on, pull_all, serve_model
from tests.support.upstream import Upstream


def test_parse_challenges() -> None:
    (c,) = parse_challenges(
        'Bearer realm="https://auth.example/token",service="reg",scope="repository:a/b:pull"'
    )
    assert c.scheme == "bearer"
    assert c.params == {
        "realm": "https://auth.example/token",
        "service": "reg",
        "scope": "repository:a/b:pull",
    }
    both = parse_challenges('Basic realm="x", Bearer realm="y"')
    assert [c.scheme for c in both] == ["basic", "bearer"]
    assert parse_challenges("") == []


def test_docker_config(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    auth = base64.b64encode(b"me:pw").decode()
    path.write_text(
        json.dumps(
            {
                "auths": {
                    "https://Reg.Example:5000/v1/": {"auth": auth},
                    "other": {"username": "u", "password": "p"},
                }
            }
        )
    )
    store = CredentialStore.from_docker_config(path)
    creds = store.lookup("reg.example:5000")
    assert creds is not None and (creds.username, creds.password) == ("me", "pw")
    assert store.lookup("reg.example") is None  # another port is another host
    assert normalise_host("https://a.b/v2/") == "a.b"
    assert CredentialStore.from_docker_config(tmp_path / "missing.json").by_host == {}
    path.write_text("{nope")
    with pytest.raises(InvalidInput):
        CredentialStore.from_docker_config(path)


async def test_rejected_token_is_unauthorized(library: Library, upstream: Upstream) -> None:
    serve_model(upstream)
    upstream.faults.token, upstream.faults.issued_token = "expected", "wrong"
    with pytest.raises(Unauthorized, match="unauthorized"):
        await pull_all(library, name_on(upstream), FAST)
    assert upstream.counters.token_requests == 1
    assert library.list_models() == []


async def test_basic_credentials_stay_on_their_host(
    library: Library, upstream: Upstream, cdn: Upstream
) -> None:
    serve_model(upstream)
    upstream.faults.basic = base64.b64encode(b"me:pw").decode()
    upstream.faults.redirect_to = f"http://{cdn.host}"
    creds = CredentialStore({upstream.host: BasicCredentials("me", "pw")})
    await pull_all(library, name_on(upstream), replace(FAST, credentials=creds))
    assert library.find_model(name_on(upstream)) is not None
    assert all(auth is None for _, _, auth in cdn.counters.requests)
    with pytest.raises(Unauthorized):
        await pull_all(library, name_on(upstream, tag="other"), FAST)  # no credentials at all


def _write_key(path: Path) -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
        )
    )
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    return public.split()[1].decode()


async def test_ollama_signed_token_request(library: Library, upstream: Upstream, tmp_path: Path) -> None:
    serve_model(upstream)
    upstream.faults.token, upstream.faults.signed_tokens = "t0k", True
    public = _write_key(tmp_path / "id_ed25519")
    key = OllamaKey.load(tmp_path / "id_ed25519")
    opts = replace(FAST, signing_key=key, signing_hosts=frozenset({upstream.host}))
    await pull_all(library, name_on(upstream), opts)
    assert upstream.counters.token_signers == [public]
    # Without the key the same registry refuses the token request.
    with pytest.raises(Unauthorized):
        await pull_all(library, name_on(upstream, tag="other"), FAST)


def test_bad_key_file(tmp_path: Path) -> None:
    (tmp_path / "k").write_text("not a key")
    with pytest.raises(InvalidInput, match="cannot load"):
        OllamaKey.load(tmp_path / "k")
