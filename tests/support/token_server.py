"""A small Docker token server for tests: a real aiohttp app on 127.0.0.1 that signs RS256 JWTs
with a key generated per instance, as distribution's token servers do.

- ``GET /token?service=&scope=...`` with Basic ``user:password`` answers
  ``{"token", "access_token", "expires_in"}`` granting the requested actions that ``grants`` allow;
  without credentials, 401 (a private token service).
- ``GET /jwks.json`` publishes the public key (with its ``kid``); :attr:`TokenServer.cert_pem` is
  the same key in a self-signed certificate (a ``root_cert_bundle``).
- :meth:`TokenServer.mint` signs any claims at all, so tests can forge wrong issuers, audiences,
  expiry times; :func:`foreign_token` signs with a key the registry does not trust.
"""

from __future__ import annotations

import base64
import datetime
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import jwt
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

ISSUER = "test-token-issuer"
SERVICE = "test-registry-service"
KID = "test-key-1"


def _self_signed(key: rsa.RSAPrivateKey) -> bytes:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test token server")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


@dataclass
class TokenServer:
    """The token server's key, users and grants; :meth:`app` serves it."""

    users: Mapping[str, str]  # name -> password
    grants: Mapping[str, Mapping[str, frozenset[str]]]  # user -> repo -> actions
    key: rsa.RSAPrivateKey = field(default_factory=lambda: rsa.generate_private_key(65537, 2048))
    url: str = ""
    requests: list[str] = field(default_factory=list)

    @property
    def cert_pem(self) -> bytes:
        """The public key in a self-signed PEM certificate."""
        return _self_signed(self.key)

    def jwks(self) -> dict[str, Any]:
        """The public key as a JWKS."""
        jwk = jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
        return {"keys": [{**jwk, "kid": KID, "use": "sig", "alg": "RS256"}]}

    def mint(self, sub: str, access: list[dict[str, Any]], **claims: Any) -> str:
        """An RS256 token with Docker's claims, any of them overridden by ``claims``."""
        now = int(time.time())
        payload = {
            "iss": ISSUER,
            "sub": sub,
            "aud": SERVICE,
            "exp": now + 300,
            "nbf": now,
            "iat": now,
            "jti": secrets.token_hex(8),
            "access": access,
            **claims,
        }
        return jwt.encode(payload, self.key, algorithm="RS256", headers={"kid": KID})

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/token", self._token)
        app.router.add_get("/jwks.json", self._jwks)
        return app

    async def _jwks(self, request: web.Request) -> web.Response:
        self.requests.append("jwks")
        return web.json_response(self.jwks())

    async def _token(self, request: web.Request) -> web.Response:
        self.requests.append("token")
        user = ""
        header = request.headers.get("Authorization", "")
        if header.startswith("Basic "):
            name, _, password = base64.b64decode(header[6:]).decode().partition(":")
            if self.users.get(name) != password:
                return web.json_response({"details": "wrong user name or password"}, status=401)
            user = name
        else:
            return web.json_response({"details": "authentication required"}, status=401)
        access = []
        for scope in (s for value in request.query.getall("scope", []) for s in value.split()):
            kind, _, rest = scope.partition(":")
            repo, _, actions = rest.rpartition(":")
            held = self.grants.get(user, {}).get(repo, frozenset())
            wanted = held if actions == "*" else frozenset(actions.split(",")) & held
            if kind == "repository" and wanted:
                access.append({"type": "repository", "name": repo, "actions": sorted(wanted)})
        token = self.mint(user, access, aud=request.query.get("service", SERVICE))
        return web.json_response({"token": token, "access_token": token, "expires_in": 300})


def foreign_token(sub: str, access: list[dict[str, Any]]) -> str:
    """A well-formed token signed by a key nobody trusts (a bad signature)."""
    return TokenServer({}, {}).mint(sub, access)


async def start_token_server(server: TokenServer) -> web.AppRunner:
    """Serve ``server`` on 127.0.0.1 (a free port); sets ``server.url``."""
    runner = web.AppRunner(server.app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    assert site._server is not None
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    server.url = f"http://127.0.0.1:{port}"
    return runner
