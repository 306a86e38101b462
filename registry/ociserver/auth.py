"""Authentication and authorization: Basic, static Bearer tokens, and signed short-lived tokens.

The token endpoint (``GET /v2/token?service=..&scope=repository:NAME:pull,push``) follows the
Docker token protocol: a client that gets ``401`` with ``WWW-Authenticate: Bearer realm=...`` asks
it (with Basic credentials, or anonymously) and receives ``{"token", "access_token", "expires_in"}``.
Tokens are ``base64url(json).base64url(hmac_sha256)``; they carry the granted scopes, so a token for
``repository:a:pull`` cannot push to ``a`` or pull ``b``.

Password checks (bcrypt, deliberately slow) run in a worker thread and successful ones are
remembered in memory for a minute, keyed by a hash of the credentials.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

from registry.errors import Denied, Unauthorized
from registry.ociserver.auth_config import ANONYMOUS, AuthConfig

__all__ = ["Authenticator", "Identity"]

_SERVICE = "ollama-py-registry"

_VERIFIED_TTL = 60.0


@dataclass(frozen=True, slots=True)
class Identity:
    """Who is calling, and (for signed tokens) what the token allows: repo -> actions."""

    name: str
    scopes: dict[str, frozenset[str]] | None = None


IDENTITY: web.RequestKey[Identity] = web.RequestKey("registry_identity", Identity)


class Authenticator:
    """Checks credentials and permissions for one application."""

    def __init__(self, config: AuthConfig) -> None:
        self.config = config
        self._verified: dict[bytes, float] = {}

    # -- credentials -------------------------------------------------------------------------------

    async def identify(self, request: web.Request) -> Identity:
        """The caller's identity (anonymous without credentials). Raises :class:`Unauthorized`."""
        header = request.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "basic":
            return Identity(await self._basic(value.strip()))
        if scheme.lower() == "bearer":
            return self._bearer(value.strip())
        return Identity(ANONYMOUS)

    async def _basic(self, value: str) -> str:
        try:
            user, _, password = base64.b64decode(value, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError) as err:
            raise Unauthorized("malformed Basic credentials") from err
        hashed = self.config.users.get(user)
        if hashed is None:
            if password in self.config.tokens:  # a static token used as a password
                return self.config.tokens[password]
            raise Unauthorized("invalid username or password")
        key = hashlib.sha256(f"{user}\0{password}\0{hashed}".encode()).digest()
        if self._verified.get(key, 0.0) > time.monotonic():
            return user
        if not await asyncio.to_thread(_check_password, password, hashed):
            raise Unauthorized("invalid username or password")
        self._verified[key] = time.monotonic() + _VERIFIED_TTL
        return user

    def _bearer(self, token: str) -> Identity:
        static = self.config.tokens.get(token)
        if static is not None:
            return Identity(static)
        payload = self._verify_token(token)
        access = payload.get("access")
        scopes = (
            {str(k): frozenset(map(str, v)) for k, v in access.items()} if isinstance(access, dict) else {}
        )
        return Identity(str(payload["sub"]), scopes)

    def _verify_token(self, token: str) -> dict[str, object]:
        body, _, signature = token.partition(".")
        expected = _b64(hmac.new(self.config.token_secret, body.encode(), hashlib.sha256).digest())
        if not signature or not hmac.compare_digest(signature, expected):
            raise Unauthorized("invalid token")
        try:
            payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        except (ValueError, binascii.Error) as err:
            raise Unauthorized("invalid token") from err
        if not isinstance(payload, dict) or float(payload.get("exp", 0)) < time.time():
            raise Unauthorized("token expired")
        return payload

    def issue_token(self, identity: str, scopes: dict[str, frozenset[str]]) -> dict[str, object]:
        """A signed token granting ``scopes`` (already intersected with what ``identity`` may do)."""
        now = time.time()
        payload = {
            "sub": identity,
            "iat": now,
            "exp": now + self.config.token_ttl,
            "access": {repo: sorted(actions) for repo, actions in scopes.items()},
        }
        body = _b64(json.dumps(payload, separators=(",", ":")).encode())
        token = f"{body}.{_b64(hmac.new(self.config.token_secret, body.encode(), hashlib.sha256).digest())}"
        issued = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))
        ttl = int(self.config.token_ttl)
        return {"token": token, "access_token": token, "expires_in": ttl, "issued_at": issued}

    # -- permissions -------------------------------------------------------------------------------

    def allowed(self, identity: Identity, repo: str) -> frozenset[str]:
        """Actions ``identity`` may take on ``repo`` (a token's scopes narrow the configured rules)."""
        granted = self.config.allowed(identity.name, repo)
        if identity.scopes is not None:
            granted &= identity.scopes.get(repo, frozenset())
        return granted

    def may(self, request: web.Request, repo: str, action: str) -> bool:
        """Whether the request's (already identified) caller may take ``action`` on ``repo``."""
        identity = request.get(IDENTITY)
        return identity is not None and action in self.allowed(identity, repo)

    def challenge(self, request: web.Request, repo: str | None, actions: str) -> dict[str, str]:
        """The ``WWW-Authenticate`` header for a 401."""
        if not self.config.bearer:
            return {"WWW-Authenticate": f'Basic realm="{self.config.realm}"'}
        realm = f"{request.scheme}://{request.host}/v2/token"
        value = f'Bearer realm="{realm}",service="{_SERVICE}"'
        if repo is not None:
            value += f',scope="repository:{repo}:{actions}"'
        return {"WWW-Authenticate": value}

    # -- aiohttp glue ------------------------------------------------------------------------------

    def middleware(self) -> Callable[..., Awaitable[web.StreamResponse]]:
        """Identify every /v2/ request and check the action its route needs."""

        @web.middleware
        async def authorize(
            request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
        ) -> web.StreamResponse:
            if not request.path.startswith("/v2") or request.path == "/v2/token":
                return await handler(request)
            repo = request.match_info.get("name")
            action = "push" if "/blobs/uploads/" in request.path else _action_for(request.method)
            try:
                identity = await self.identify(request)
            except Unauthorized as err:
                err.headers = self.challenge(request, repo, action)  # type: ignore[attr-defined]
                raise
            request[IDENTITY] = identity
            if repo is None:
                if identity.name == ANONYMOUS and not self.config.anonymous_pull:
                    raise _unauthorized(self.challenge(request, None, action))
                return await handler(request)
            if action not in self.allowed(identity, repo):
                if identity.name == ANONYMOUS:
                    raise _unauthorized(self.challenge(request, repo, _wanted(request.method)))
                raise Denied(
                    "requested access to the resource is denied", detail={"name": repo, "action": action}
                )
            return await handler(request)

        return authorize

    async def token_endpoint(self, request: web.Request) -> web.Response:
        """GET /v2/token: issue a signed token for the requested scopes the caller is allowed."""
        try:
            identity = await self.identify(request)
        except Unauthorized as err:
            err.headers = self.challenge(request, None, "pull")  # type: ignore[attr-defined]
            raise
        if identity.name == ANONYMOUS and not self.config.anonymous_pull:
            raise _unauthorized(self.challenge(request, None, "pull"))
        scopes: dict[str, frozenset[str]] = {}
        for scope in request.query.getall("scope", []):
            kind, _, rest = scope.partition(":")
            repo, _, actions = rest.rpartition(":")
            if kind != "repository" or not repo:
                continue
            wanted = frozenset(a for a in actions.split(",") if a)
            if "push" in wanted:
                wanted |= {"pull"} & self.allowed(identity, repo)
            scopes[repo] = scopes.get(repo, frozenset()) | (wanted & self.allowed(identity, repo))
        return web.json_response(self.issue_token(identity.name, scopes))


def _action_for(method: str) -> str:
    if method in ("GET", "HEAD"):
        return "pull"
    return "delete" if method == "DELETE" else "push"


def _wanted(method: str) -> str:
    return "pull" if method in ("GET", "HEAD") else "pull,push"


def _unauthorized(headers: dict[str, str]) -> Unauthorized:
    err = Unauthorized("authentication required")
    err.headers = headers  # type: ignore[attr-defined]
    return err


def _check_password(password: str, hashed: str) -> bool:
    if hashed.startswith("$argon2"):
        try:
            from argon2 import PasswordHasher  # type: ignore[import-not-found]
            from argon2.exceptions import VerificationError  # type: ignore[import-not-found]
        except ImportError:  # pragma: no cover - argon2-cffi is optional
            return False
        try:
            return bool(PasswordHasher().verify(hashed, password))
        except VerificationError:
            return False
    import bcrypt

    try:
        return bool(bcrypt.checkpw(password.encode(), hashed.encode()))
    except ValueError:
        return False


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
