"""Registry auth: anonymous, Bearer tokens from a ``WWW-Authenticate`` challenge, Basic credentials.

Flow (the Docker token protocol): a request answered 401 carries ``WWW-Authenticate: Bearer
realm="...",service="...",scope="..."``; we GET the realm with ``service`` and ``scope`` and receive
``{"token": ...}`` (or ``access_token``); the token is cached per (host, scope) and sent as
``Authorization: Bearer``. A ``Basic`` challenge uses the stored credentials for that host directly.

Credential safety (better than following redirects blindly): an ``Authorization`` header is only
ever attached to requests for the host it belongs to; the transport strips it across redirects to
another host (CDNs), and a registry's Basic credentials are sent to a token realm only when the
realm is on the same host as the registry (Ollama's rule: "realm host must match original host").
A realm on another host (an external token server, as distribution's ``auth.token`` uses) gets
the credentials stored for that realm's own host, if any: never the registry's.

With an :class:`OllamaKey` for a host (ollama.com), token requests are signed as Ollama's are
(``ts`` and ``nonce`` query parameters, ``Authorization: <public key>:<signature>``).

The token asked for covers both the challenge's scope and the scope the operation needs (a push
answering the 401 of a ``HEAD`` must not get a pull-only token). Concurrent 401s for one scope (the
parallel blob transfers of a push or pull) share one token request, and a refused token request is
not repeated within the operation: one push with a wrong password is one failed login at the
registry, so its failed-login limit counts what the user typed, not how many blobs were in flight.

Concurrency: one :class:`Authenticator` per operation (one event loop); not thread-safe.
"""

from __future__ import annotations

import asyncio
import base64
import os
import time
from collections.abc import Awaitable, Callable
from urllib.parse import urlencode, urlsplit

from registry.errors import Unauthorized
from registry.oci.challenge import Challenge, parse_challenges
from registry.remote.credentials import CredentialStore
from registry.remote.signing import OllamaKey, signed_message

__all__ = ["Authenticator"]

#: ``(url, headers) -> (status, json body or None)``: the transport's plain GET, injected.
TokenFetcher = Callable[[str, dict[str, str]], Awaitable[tuple[int, object]]]


def _nonce() -> str:
    return base64.urlsafe_b64encode(os.urandom(16)).decode().rstrip("=")


class Authenticator:
    """Holds tokens and knows which header to send to which host."""

    def __init__(
        self,
        credentials: CredentialStore | None,
        fetch: TokenFetcher,
        signing_key: OllamaKey | None = None,
        signing_hosts: frozenset[str] = frozenset(),
        *,
        same_host_realm_only: bool = False,
        remember_refusals: bool = True,
    ) -> None:
        self._credentials = credentials or CredentialStore()
        self._fetch = fetch
        self._signing_key = signing_key
        self._signing_hosts = signing_hosts
        self._same_host_realm_only = same_host_realm_only
        self._remember_refusals = remember_refusals
        self._tokens: dict[tuple[str, str], str] = {}
        self._basic_hosts: set[str] = set()
        #: Token requests in flight or refused, by (host, scope): shared, never repeated.
        self._requests: dict[tuple[str, str], asyncio.Future[str]] = {}

    def header_for(self, host: str, scope: str) -> str | None:
        """The ``Authorization`` value for a request to ``host`` needing ``scope``, if known."""
        token = self._tokens.get((host, scope))
        if token is not None:
            return f"Bearer {token}"
        if host in self._basic_hosts:
            creds = self._credentials.lookup(host)
            return creds.header() if creds else None
        return None

    async def answer(
        self, host: str, scope: str, www_authenticate: str | None, sent: str | None = None
    ) -> None:
        """React to a 401 from ``host`` to a request sent with ``Authorization: sent`` (None: none):
        obtain a token (or arm Basic) for ``scope``. Concurrent 401s of requests sent before Basic
        was armed all retry with the credentials; a 401 to the credentials themselves is final.

        Raises:
            Unauthorized: no usable challenge, no credentials for a Basic challenge, or the token
                endpoint refused us.
        """
        challenges = parse_challenges(www_authenticate or "")
        bearer = next((c for c in challenges if c.scheme == "bearer" and "realm" in c.params), None)
        if bearer is not None:
            self._tokens[(host, scope)] = await self._shared_token(host, scope, bearer)
            return
        if any(c.scheme == "basic" for c in challenges):
            creds = self._credentials.lookup(host)
            if creds is None:
                raise Unauthorized(_no_credentials(host))
            if sent == creds.header():
                raise Unauthorized(_refused(host))
            self._basic_hosts.add(host)
            return
        raise Unauthorized(f"unauthorized: access denied by {host}")

    def refusal(self, host: str, sent: str | None) -> str | None:
        """Words for a final 401 from ``host`` to a request sent with ``Authorization: sent``: when
        it carried the stored Basic credentials, they were refused (None otherwise)."""
        creds = self._credentials.lookup(host)
        if sent is not None and creds is not None and sent == creds.header():
            return _refused(host)
        return None

    async def _shared_token(self, host: str, scope: str, challenge: Challenge) -> str:
        """One token request per (host, scope) at a time; a refusal (401, 403, 429) is final for
        this operation. A token that was granted and later answered 401 (expired), or a request that
        failed on the network, is asked for again."""
        key = (host, scope)
        pending = self._requests.get(key)
        refused = (
            self._remember_refusals
            and pending is not None
            and pending.done()
            and not pending.cancelled()
            and isinstance(pending.exception(), Unauthorized)
        )
        if pending is None or (pending.done() and not refused):
            pending = asyncio.ensure_future(self._token(host, scope, challenge))
            pending.add_done_callback(_retrieve)
            self._requests[key] = pending
        return await asyncio.shield(pending)

    async def _token(self, host: str, scope: str, challenge: Challenge) -> str:
        realm = challenge.params["realm"]
        scopes = [s for s in (challenge.params.get("scope") or "").split(" ") if s]
        if scope and scope not in scopes:
            scopes.append(scope)  # what the operation needs, not only what this one request needed
        params = [("service", challenge.params.get("service", ""))]
        params += [("scope", s) for s in scopes]
        headers: dict[str, str] = {}
        same_host = urlsplit(realm).netloc.lower() == host
        key = self._signing_key if host in self._signing_hosts else None
        if self._same_host_realm_only and not same_host:
            raise Unauthorized(
                f"unauthorized: realm host {urlsplit(realm).netloc!r} is not {host!r} (not contacted)"
            )
        if key is not None:
            if not same_host:  # Ollama's rule: never sign for a realm on another host
                raise Unauthorized(
                    f"unauthorized: realm host {urlsplit(realm).netloc!r} does not match {host!r}"
                )
            params += [("ts", str(int(time.time()))), ("nonce", _nonce())]
            params.sort(key=lambda kv: kv[0])  # Go's url.Values.Encode order
        url = realm + ("&" if "?" in realm else "?") + urlencode(params)
        realm_host = urlsplit(realm).netloc.lower()
        creds = self._credentials.lookup(host if same_host else realm_host)
        if key is not None:
            headers["Authorization"] = key.authorization(signed_message("GET", url))
        elif creds is not None:
            headers["Authorization"] = creds.header()
        status, body = await self._fetch(url, headers)
        if status == 401 and key is None:  # (a person can act on these)
            if same_host:
                raise Unauthorized(_refused(host) if "Authorization" in headers else _no_credentials(host))
            raise Unauthorized(_realm_login(host, realm_host, refused="Authorization" in headers))
        if status >= 400:
            said = _error_message(body)
            raise Unauthorized(
                f"unauthorized: token request to {urlsplit(realm).netloc} answered {status}"
                + (f": {said}" if said else "")
            )
        token = None
        if isinstance(body, dict):
            token = body.get("token") or body.get("access_token")
        if not isinstance(token, str) or not token:
            raise Unauthorized(f"unauthorized: token endpoint {urlsplit(realm).netloc} sent no token")
        return token


def _no_credentials(host: str) -> str:
    return f"unauthorized: {host} needs a login: no credentials stored for it (run 'ollama-py login {host}')"


def _realm_login(host: str, realm_host: str, *, refused: bool) -> str:
    what = "refused the username and password stored for it" if refused else "needs a login"
    return (
        f"unauthorized: {realm_host}, the token server of {host}, {what}: store its credentials"
        f" under {realm_host!r} in the docker config (docker login {realm_host})"
    )


def _refused(host: str) -> str:
    return (
        f"unauthorized: {host} refused the stored username and password"
        f" (wrong password? run 'ollama-py login {host}' again)"
    )


def _retrieve(future: asyncio.Future[str]) -> None:
    """Mark a shared request's exception as seen (each waiter gets it through its own await)."""
    if not future.cancelled():
        future.exception()


def _error_message(body: object) -> str:
    """The first ``errors[].message`` of a registry error body (printable, at most 300 characters)."""
    if isinstance(body, dict):
        errors = body.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            message = errors[0].get("message")
            if isinstance(message, str):
                return "".join(c for c in message if c.isprintable())[:300]
    return ""
