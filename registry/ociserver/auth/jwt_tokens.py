"""Docker registry tokens as standard JWTs (PyJWT), with the claims of Docker's token spec:
``iss``, ``sub``, ``aud`` (the service), ``exp``, ``nbf``, ``iat``, ``jti`` and
``access = [{"type": "repository", "name": NAME, "actions": [...]}]``.

- :class:`TokenMinter` signs the tokens of the built-in token endpoint (HS256 under
  :func:`token_key` of ``token_secret``: 32 bytes whatever the secret's length, and apart from the
  web page's session key, which is derived from the same secret).
- :class:`TokenVerifier` checks a token's signature, issuer, audience and times and reads its
  grant; every failure is :class:`~registry.errors.Unauthorized` with a message that says which
  check failed (bad signature, wrong issuer, wrong audience, expired, malformed claims). A token
  that verified is remembered (by its exact text) until it expires, at most :data:`REMEMBER`
  seconds, so a client's every request with one token costs one signature check, not one each.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import jwt

from registry.errors import Unauthorized
from registry.ociserver.auth.token_keys import TrustedKey

__all__ = [
    "LEEWAY",
    "TokenClaims",
    "TokenMinter",
    "TokenVerifier",
    "access_claim",
    "read_access",
    "token_key",
]

#: Seconds of clock skew allowed between the token server and the registry.
LEEWAY = 30.0

#: Longest a verified token is remembered (its ``exp`` ends it sooner); and how many are.
REMEMBER = 60.0
_REMEMBERED = 4096

#: Keys that may have signed a token, from its header's ``kid`` and ``alg``.
KeyLookup = Callable[[str | None, str], Awaitable[list[TrustedKey]]]


@dataclass(frozen=True, slots=True)
class TokenClaims:
    """What a verified token says: who (``sub``; empty for an anonymous token) and what it grants."""

    subject: str
    access: dict[str, frozenset[str]]
    expires: float = float("inf")


def token_key(secret: bytes) -> bytes:
    """The HS256 key of the built-in token endpoint's tokens, derived from ``token_secret``."""
    return hashlib.sha256(b"ollama-py registry bearer token\0" + secret).digest()


def access_claim(scopes: Mapping[str, frozenset[str]]) -> list[dict[str, object]]:
    """``{repo: actions}`` as the spec's ``access`` claim (sorted, so tokens are reproducible)."""
    return [
        {"type": "repository", "name": repo, "actions": sorted(actions)}
        for repo, actions in sorted(scopes.items())
    ]


def read_access(claim: object) -> dict[str, frozenset[str]]:
    """The repository grants of an ``access`` claim (entries of other types, such as
    ``registry:catalog``, are ignored; a repository named twice gets the union).

    Raises:
        Unauthorized: the claim is not a list of ``{type, name, actions}`` objects.
    """
    if claim is None:
        return {}
    if not isinstance(claim, list):
        raise Unauthorized("invalid token: access must be a list of {type, name, actions} objects")
    grants: dict[str, frozenset[str]] = {}
    for entry in claim:
        if (
            not isinstance(entry, dict)
            or not isinstance(entry.get("type"), str)
            or not isinstance(entry.get("name"), str)
            or not isinstance(entry.get("actions"), list)
            or not all(isinstance(a, str) for a in entry["actions"])
        ):
            raise Unauthorized("invalid token: access must be a list of {type, name, actions} objects")
        if entry["type"] == "repository":
            name = entry["name"]
            grants[name] = grants.get(name, frozenset()) | frozenset(entry["actions"])
    return grants


class TokenMinter:
    """Signs the built-in token endpoint's tokens (HS256 under :func:`token_key` of ``secret``)."""

    def __init__(self, secret: bytes, *, issuer: str, service: str, ttl: float) -> None:
        self._secret = token_key(secret)
        self._issuer = issuer
        self._service = service
        self._ttl = ttl

    def mint(self, subject: str, scopes: Mapping[str, frozenset[str]], now: float) -> str:
        """A token for ``subject`` granting ``scopes`` (already narrowed to what it may do)."""
        payload = {
            "iss": self._issuer,
            "sub": subject,
            "aud": self._service,
            "exp": int(now + self._ttl),
            "nbf": int(now),
            "iat": int(now),
            "jti": secrets.token_urlsafe(16),
            "access": access_claim(scopes),
        }
        return jwt.encode(payload, self._secret, algorithm="HS256")


class TokenVerifier:
    """Verifies tokens of one issuer for one service (audience) with the keys ``lookup`` names."""

    def __init__(self, lookup: KeyLookup, *, issuer: str, service: str, leeway: float = LEEWAY) -> None:
        self._lookup = lookup
        self._issuer = issuer
        self._service = service
        self._leeway = leeway
        self._verified: OrderedDict[str, tuple[float, TokenClaims]] = OrderedDict()

    async def verify(self, token: str) -> TokenClaims:
        """The claims of a valid token.

        Raises:
            Unauthorized: not a JWT, signed by no trusted key, another issuer or audience,
                expired or not yet valid, or malformed claims; the message says which.
        """
        now = time.time()
        known = self._verified.get(token)
        if known is not None:
            if now < known[0]:
                return known[1]
            del self._verified[token]
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError as err:
            raise Unauthorized("invalid token: not a well-formed JWT") from err
        claims = await self._check(token, header)
        until = min(claims.expires + self._leeway, now + REMEMBER)
        self._verified[token] = (until, claims)
        if len(self._verified) > _REMEMBERED:
            self._verified.popitem(last=False)
        return claims

    async def _check(self, token: str, header: dict[str, Any]) -> TokenClaims:
        alg, kid = header.get("alg"), header.get("kid")
        if not isinstance(alg, str) or alg == "none":
            raise Unauthorized("invalid token: unsigned or without an algorithm")
        keys = await self._lookup(kid if isinstance(kid, str) else None, alg)
        if not keys:
            raise Unauthorized(f"invalid token: no trusted key verifies {alg} signatures")
        for key in keys:
            try:
                payload = self._decode(token, key)
            except jwt.InvalidSignatureError:
                continue
            return self._claims(payload)
        raise Unauthorized("invalid token: the signature does not verify with any trusted key")

    def _decode(self, token: str, key: TrustedKey) -> dict[str, Any]:
        try:
            payload: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=list(key.algorithms),
                audience=self._service,
                issuer=self._issuer,
                leeway=self._leeway,
                options={"require": ["exp", "iss", "aud"], "verify_sub": False, "verify_jti": False},
            )
        except jwt.InvalidSignatureError:
            raise
        except jwt.ExpiredSignatureError as err:
            raise Unauthorized("token expired") from err
        except jwt.ImmatureSignatureError as err:
            raise Unauthorized("invalid token: not valid yet (nbf or iat in the future)") from err
        except jwt.InvalidIssuerError as err:
            raise Unauthorized(
                f"invalid token: issued by {_claim(token, 'iss')}, not the trusted issuer {self._issuer!r}"
            ) from err
        except jwt.InvalidAudienceError as err:
            raise Unauthorized(
                f"invalid token: its audience {_claim(token, 'aud')} is not this registry's service"
                f" {self._service!r}"
            ) from err
        except jwt.MissingRequiredClaimError as err:
            raise Unauthorized(f"invalid token: the {err.claim!r} claim is missing") from err
        except jwt.InvalidTokenError as err:
            raise Unauthorized(f"invalid token: {err}") from err
        return payload

    @staticmethod
    def _claims(payload: Mapping[str, Any]) -> TokenClaims:
        subject = payload.get("sub", "")
        if not isinstance(subject, str):
            raise Unauthorized("invalid token: sub must be a string")
        try:
            expires = float(int(payload["exp"]))  # (PyJWT checked that int() takes it)
        except OverflowError:
            expires = float("inf")
        return TokenClaims(subject, read_access(payload.get("access")), expires)


def _claim(token: str, name: str) -> str:
    """An unverified claim for an error message (quoted, printable, at most 100 characters)."""
    try:
        value = jwt.decode(token, options={"verify_signature": False}).get(name)
    except jwt.InvalidTokenError:
        return "?"
    text = repr(value)
    return "".join(c for c in text if c.isprintable())[:100]
