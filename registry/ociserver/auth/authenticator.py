"""Authentication and authorization: Basic, static Bearer tokens, and signed short-lived tokens.

The token endpoint (``GET /v2/token?service=..&scope=repository:NAME:pull,push``) follows the
Docker token protocol: a client that gets ``401`` with ``WWW-Authenticate: Bearer realm=...`` asks
it (with Basic credentials, or anonymously) and receives ``{"token", "access_token", "expires_in"}``.
Tokens are JWTs with the claims of Docker's token spec (:mod:`.jwt_tokens`); they carry the granted
scopes, so a token for ``repository:a:pull`` cannot push to ``a`` or pull ``b``.

With ``[auth.token_server]`` the registry issues no tokens: its challenges name that server's realm
and service, it verifies that server's tokens with its public keys (:mod:`.token_keys`), and a
token's ``access`` claim is its whole grant; Basic credentials and static tokens are refused.

Password checks (bcrypt, deliberately slow) run on threads of their own (see
:mod:`registry.ociserver.auth.password_check`), successes are remembered for a minute, and failed
logins are limited per user and per client address (:mod:`registry.ociserver.auth.login_throttle`):
past the limit a login gets 429 with ``Retry-After`` before any password is looked at.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

from registry.errors import Denied, NotFound, RateLimited, Unauthorized
from registry.ociserver.auth.access_model import ANONYMOUS, SERVICE, AuthConfig
from registry.ociserver.auth.jwt_tokens import TokenMinter, TokenVerifier, token_key
from registry.ociserver.auth.login_throttle import FailureWindow, address_key
from registry.ociserver.auth.password_check import PasswordVerifier
from registry.ociserver.auth.token_keys import TrustedKey

__all__ = ["Authenticator", "Identity"]

_VERIFIED_TTL = 60.0

#: Distinct password checks waiting or running at once; more get 429.
_MAX_PENDING_CHECKS = 64


@dataclass(frozen=True, slots=True)
class Identity:
    """Who is calling, and (for signed tokens) what the token allows: repo -> actions."""

    name: str
    scopes: dict[str, frozenset[str]] | None = None


IDENTITY: web.RequestKey[Identity] = web.RequestKey("registry_identity", Identity)


class Authenticator:
    """Checks credentials and permissions for one application; owns the password threads (:meth:`close`)."""

    def __init__(self, config: AuthConfig, *, on_hash: Callable[[], None] = lambda: None) -> None:
        self.config = config
        self._passwords = PasswordVerifier(
            config.users,
            threads=config.password_threads,
            max_pending=_MAX_PENDING_CHECKS,
            ttl=_VERIFIED_TTL,
            refused_ttl=config.failed_login_window,
            on_hash=on_hash,
        )
        self._failures = FailureWindow(config.max_failed_logins, config.failed_login_window)
        self._minter = TokenMinter(config.token_secret, issuer=SERVICE, service=SERVICE, ttl=config.token_ttl)
        external = config.token_server
        if external is not None:
            self._verifier = TokenVerifier(
                external.keys.candidates, issuer=external.issuer, service=external.service
            )
        else:
            own = [TrustedKey(None, token_key(config.token_secret), ("HS256",))]

            async def own_key(_kid: str | None, alg: str) -> list[TrustedKey]:
                return own if alg == "HS256" else []

            self._verifier = TokenVerifier(own_key, issuer=SERVICE, service=SERVICE)

    def close(self) -> None:
        """Stop the password threads."""
        self._passwords.close()

    # -- credentials -------------------------------------------------------------------------------

    async def identify(self, request: web.Request) -> Identity:
        """The caller's identity (anonymous without credentials).

        Raises:
            Unauthorized: malformed or wrong credentials, or an invalid or expired token.
            RateLimited: too many failed logins for this user or from this address.
        """
        header = request.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "basic":
            if self.config.token_server is not None:
                raise Unauthorized(
                    "this registry accepts only bearer tokens from its token server"
                    f" ({self.config.token_server.realm}), not Basic credentials"
                )
            return Identity(await self._basic(value.strip(), request.remote))
        if scheme.lower() == "bearer":
            return await self._bearer(value.strip())
        return Identity(ANONYMOUS)

    async def _basic(self, value: str, remote: str | None) -> str:
        try:
            user, _, password = base64.b64decode(value, validate=True).decode().partition(":")
        except (ValueError, UnicodeDecodeError) as err:  # binascii.Error, non-ASCII input
            raise Unauthorized("malformed Basic credentials") from err
        return await self.login(user, password, remote)

    async def login(self, user: str, password: str, remote: str | None) -> str:
        """The identity a user name and password (or a static token as the password) stand for,
        under the same failed-login limits as Basic credentials (the web page's sign-in uses it).

        Raises:
            Unauthorized: wrong user name or password.
            RateLimited: too many failed logins for this user or from this address.
        """
        keys = (_user_key(user), address_key(remote))
        # The same credentials again, while their check runs or after it refused them (the
        # parallel requests of one push), are no new guess: they join it, whatever the limits say.
        check = self._passwords.known(user, password, successes=False)
        if check is None:
            wait = max(self._failures.retry_after(key) for key in keys)
            if wait:  # before any secret is looked at, so a blocked client learns nothing
                raise RateLimited(
                    f"too many failed logins for this user or from this address; retry in {wait} s",
                    retry_after=wait,
                )
            if user not in self.config.users and password in self.config.tokens:
                return self.config.tokens[password]  # a static token used as a password
            check = self._passwords.check(user, password)
        if check.started:
            for key in keys:
                self._failures.begin(key)
            check.future.add_done_callback(lambda done: self._settle(keys, done))
        if not await asyncio.shield(check.future):
            raise Unauthorized("invalid username or password")
        return user

    def _settle(self, keys: tuple[str, ...], done: asyncio.Future[bool]) -> None:
        failed = not done.cancelled() and done.exception() is None and not done.result()
        for key in keys:
            self._failures.end(key, failed=failed)

    async def _bearer(self, token: str) -> Identity:
        if self.config.token_server is None:
            static = self.config.tokens.get(token)
            if static is not None:
                return Identity(static)
        if not token.isascii():
            raise Unauthorized("invalid token: not a well-formed JWT")
        claims = await self._verifier.verify(token)
        return Identity(claims.subject or ANONYMOUS, claims.access)

    def issue_token(self, identity: str, scopes: dict[str, frozenset[str]]) -> dict[str, object]:
        """A signed token granting ``scopes`` (already intersected with what ``identity`` may do)."""
        now = time.time()
        token = self._minter.mint(identity, scopes, now)
        issued = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))
        ttl = int(self.config.token_ttl)
        return {"token": token, "access_token": token, "expires_in": ttl, "issued_at": issued}

    # -- permissions -------------------------------------------------------------------------------

    def allowed(self, identity: Identity, repo: str) -> frozenset[str]:
        """Actions ``identity`` may take on ``repo`` (a token's scopes narrow the configured rules;
        an external token server's token is the whole grant)."""
        if self.config.token_server is not None and identity.scopes is not None:
            return identity.scopes.get(repo, frozenset())
        granted = self.config.allowed(identity.name, repo)
        if identity.scopes is not None:
            granted &= identity.scopes.get(repo, frozenset())
        return granted

    def may_pull(self, identity: Identity) -> Callable[[str], bool]:
        """A predicate equal to ``"pull" in self.allowed(identity, repo)``, for listing many names."""
        if self.config.token_server is not None and identity.scopes is not None:
            scopes = identity.scopes
            return lambda repo: "pull" in scopes.get(repo, frozenset())
        configured = self.config.may_pull(identity.name)
        if identity.scopes is None:
            return configured
        scoped = frozenset(repo for repo, actions in identity.scopes.items() if "pull" in actions)
        return lambda repo: repo in scoped and configured(repo)

    def _token_too_narrow(self, identity: Identity, repo: str, action: str) -> bool:
        """Whether ``identity`` is a signed token that lacks ``action`` its user may take on ``repo``
        (with an external token server: any token that lacks it, as only that server knows)."""
        if self.config.token_server is not None:
            return identity.scopes is not None
        return identity.scopes is not None and action in self.config.allowed(identity.name, repo)

    def may(self, request: web.Request, repo: str, action: str) -> bool:
        """Whether the request's (already identified) caller may take ``action`` on ``repo``."""
        identity = request.get(IDENTITY)
        return identity is not None and action in self.allowed(identity, repo)

    def challenge(
        self,
        request: web.Request,
        repo: str | None,
        actions: str,
        *,
        extra: tuple[tuple[str, str], ...] = (),
        insufficient: bool = False,
    ) -> dict[str, str]:
        """The ``WWW-Authenticate`` header for a 401: ``scope`` names ``repository:REPO:ACTIONS``
        and each ``(repo, actions)`` of ``extra`` (space-separated, as distribution writes them);
        ``insufficient`` adds ``error="insufficient_scope"`` (a valid token that lacks a scope)."""
        if not self.config.bearer:
            return {"WWW-Authenticate": f'Basic realm="{self.config.realm}"'}
        external = self.config.token_server
        if external is not None:
            value = f'Bearer realm="{external.realm}",service="{external.service}"'
        else:
            host = request.host if _QUOTABLE.fullmatch(request.host) else _local_host(request)
            realm = f"{request.scheme}://{host}/v2/token"
            value = f'Bearer realm="{realm}",service="{SERVICE}"'
        wanted = ((repo, actions), *extra) if repo is not None else extra
        # never echo control characters, spaces or quotes
        scopes = [f"repository:{name}:{acts}" for name, acts in wanted if _QUOTABLE.fullmatch(name)]
        if scopes:
            value += f',scope="{" ".join(scopes)}"'
        if insufficient:
            value += ',error="insufficient_scope"'
        return {"WWW-Authenticate": value}

    # -- aiohttp glue ------------------------------------------------------------------------------

    def middleware(self) -> Callable[..., Awaitable[web.StreamResponse]]:
        """Identify every /v2/ request and check the actions its route needs (see :func:`_required`)."""

        @web.middleware
        async def authorize(
            request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
        ) -> web.StreamResponse:
            if not request.path.startswith("/v2") or request.path == "/v2/token":
                return await handler(request)
            repo = request.match_info.get("name")
            action = _action_for(request)
            try:
                identity = await self.identify(request)
            except Unauthorized as err:
                err.headers = self.challenge(request, repo, _wanted(action))  # type: ignore[attr-defined]
                raise
            request[IDENTITY] = identity
            if repo is None:
                if identity.name == ANONYMOUS and not self.config.anonymous_pull:
                    raise _unauthorized(self.challenge(request, None, action))
                return await handler(request)
            source = _mount_source(request)
            extra = ((source, "pull"),) if source is not None else ()
            if action not in self.allowed(identity, repo):
                if identity.name == ANONYMOUS or self._token_too_narrow(identity, repo, action):
                    # (a signed token whose scopes lack what its user may do: as distribution's
                    # insufficient_scope, a 401 whose challenge names the scopes to ask for)
                    raise _unauthorized(
                        self.challenge(
                            request,
                            repo,
                            _wanted(action),
                            extra=extra,
                            insufficient=identity.name != ANONYMOUS,
                        )
                    )
                raise Denied(
                    f"requested access to the resource is denied: {_printable(identity.name)} may not"
                    f" {action} {'to' if action == 'push' else 'from'} {repo} (repository:{repo}:{action})",
                    detail={"name": repo, "action": action},
                )
            if (
                source is not None
                and self._token_too_narrow(identity, source, "pull")
                and "pull" not in self.allowed(identity, source)
            ):
                # The user may read the source but the token does not say so: ask for a token
                # naming it, or the client uploads the whole blob again.
                raise _unauthorized(
                    self.challenge(request, repo, _wanted(action), extra=extra, insufficient=True)
                )
            return await handler(request)

        return authorize

    async def token_endpoint(self, request: web.Request) -> web.Response:
        """GET /v2/token: issue a signed token for the requested scopes the caller is allowed
        (404 with an external token server: tokens come from its realm)."""
        if self.config.token_server is not None:
            raise NotFound(
                f"this registry issues no tokens; ask its token server at {self.config.token_server.realm}"
            )
        try:
            identity = await self.identify(request)
        except Unauthorized as err:
            err.headers = self.challenge(request, None, "pull")  # type: ignore[attr-defined]
            raise
        if identity.name == ANONYMOUS and not self.config.anonymous_pull:
            raise _unauthorized(self.challenge(request, None, "pull"))
        scopes: dict[str, frozenset[str]] = {}
        for scope in (s for value in request.query.getall("scope", []) for s in value.split()):
            kind, _, rest = scope.partition(":")
            repo, _, actions = rest.rpartition(":")
            if kind != "repository" or not repo:
                continue
            held = self.allowed(identity, repo)
            wanted = frozenset(a for a in actions.split(",") if a)
            if "*" in wanted:  # skopeo delete asks for repository:NAME:* (distribution: all held)
                wanted = held
            if "push" in wanted:
                wanted |= {"pull"} & held
            scopes[repo] = scopes.get(repo, frozenset()) | (wanted & held)
        return web.json_response(self.issue_token(identity.name, scopes))


#: What may appear inside a quoted ``WWW-Authenticate`` parameter as is.
_QUOTABLE = re.compile(r"[!#-\[\]-~]{1,1000}")


def _printable(text: str) -> str:
    """A user name as it may appear in a message (no control characters; at most 100 of them)."""
    return "".join(c for c in text if c.isprintable())[:100]


def _user_key(user: str) -> str:
    """The throttling key for a user name (long names by their hash, so the keys stay small)."""
    if len(user) <= 64:
        return f"user:{user}"
    return "user#" + hashlib.sha256(user.encode("utf-8", "surrogateescape")).hexdigest()


def _local_host(request: web.Request) -> str:
    """``host:port`` of the socket the request arrived on (when its ``Host`` header is unusable)."""
    sockname = request.transport.get_extra_info("sockname") if request.transport else None
    if not sockname:
        return "localhost"
    host, port = sockname[0], sockname[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _action_for(request: web.Request) -> str:
    """The action a request needs, as distribution maps methods: GET/HEAD pull, POST/PUT/PATCH
    push, DELETE delete; but DELETE of an upload session (cancelling one's own upload) is a push."""
    method = request.method
    if method in ("GET", "HEAD"):
        return "pull"
    if method == "DELETE":
        return "push" if "upload_id" in request.match_info else "delete"
    return "push"


def _wanted(action: str) -> str:
    """The actions a challenge asks for to allow ``action`` (a push token also pulls)."""
    return "pull,push" if action == "push" else action


def _mount_source(request: web.Request) -> str | None:
    """The ``from`` repository of a cross-repository mount (``POST ...?mount=&from=``), if any."""
    if request.method != "POST" or "mount" not in request.query:
        return None
    return request.query.get("from") or None


def _unauthorized(headers: dict[str, str]) -> Unauthorized:
    err = Unauthorized("authentication required")
    err.headers = headers  # type: ignore[attr-defined]
    return err
