"""The public keys of an external Docker token server, as distribution's ``auth.token`` takes them:
a PEM certificate bundle (``root_cert_bundle``) and/or a JWKS (``jwks``: a file, or an
``http(s)://`` URL fetched when first needed and again, at most every :data:`REFETCH_INTERVAL`
seconds, when a token names a key id it does not hold, so the token server can rotate keys).

Only asymmetric keys (RSA, EC, Ed25519) are accepted, each with the algorithms of its type, so a
token cannot pick a weaker algorithm (or ``none``, or HMAC with a public key as the secret).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from registry.errors import InvalidInput

__all__ = ["REFETCH_INTERVAL", "TrustedKey", "TrustedKeys", "keys_from_jwks", "keys_from_pem_bundle"]

log = logging.getLogger(__name__)

#: Least seconds between two fetches of a JWKS URL (a flood of tokens with unknown key ids
#: must not become a flood of requests to the token server).
REFETCH_INTERVAL = 30.0

_FETCH_TIMEOUT = 10.0
_MAX_JWKS_BYTES = 1 << 20

_RSA_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512")
_EC_ALGORITHMS = ("ES256", "ES384", "ES512")


@dataclass(frozen=True, slots=True)
class TrustedKey:
    """One public key: its key id (None: matched by trying it), the key, and the algorithms it verifies."""

    kid: str | None
    key: Any
    algorithms: tuple[str, ...]


def _algorithms_for(key: object) -> tuple[str, ...]:
    if isinstance(key, rsa.RSAPublicKey):
        return _RSA_ALGORITHMS
    if isinstance(key, ec.EllipticCurvePublicKey):
        return _EC_ALGORITHMS
    if isinstance(key, ed25519.Ed25519PublicKey):
        return ("EdDSA",)
    raise InvalidInput(f"unsupported public key type {type(key).__name__} (RSA, EC or Ed25519 only)")


def keys_from_pem_bundle(data: bytes, source: str) -> tuple[TrustedKey, ...]:
    """The public keys of every certificate in a PEM bundle.

    Raises:
        InvalidInput: no certificate in it, or one that cannot be read, naming ``source``.
    """
    try:
        certificates = x509.load_pem_x509_certificates(data)
    except ValueError as err:
        raise InvalidInput(f"config: {source}: not a PEM certificate bundle ({err})") from err
    keys = []
    for certificate in certificates:
        key = certificate.public_key()
        try:
            keys.append(TrustedKey(None, key, _algorithms_for(key)))
        except InvalidInput as err:
            raise InvalidInput(f"config: {source}: {err}") from err
    return tuple(keys)


def keys_from_jwks(document: object, source: str) -> tuple[TrustedKey, ...]:
    """The usable public keys of a JWKS document (``{"keys": [...]}``); private or symmetric keys
    are refused, keys for other uses (``"use": "enc"``) skipped.

    Raises:
        InvalidInput: not a JWKS, a key that cannot be read, or no usable key, naming ``source``.
    """
    if not isinstance(document, Mapping) or not isinstance(document.get("keys"), list):
        raise InvalidInput(f'{source}: not a JWKS (a JSON object with a "keys" array)')
    keys = []
    for entry in document["keys"]:
        if not isinstance(entry, Mapping):
            raise InvalidInput(f"{source}: each JWKS key must be a JSON object")
        if entry.get("use", "sig") != "sig":
            continue
        if entry.get("kty") == "oct" or "d" in entry:
            raise InvalidInput(f"{source}: a JWKS of a token server holds public keys only")
        try:
            jwk = jwt.PyJWK(dict(entry))
        except (jwt.PyJWKError, jwt.InvalidKeyError, ValueError, TypeError) as err:
            raise InvalidInput(f"{source}: unreadable JWKS key: {err}") from err
        algorithms = _algorithms_for(jwk.key)
        alg = entry.get("alg")
        if isinstance(alg, str):
            if alg not in algorithms:
                raise InvalidInput(f"{source}: JWKS key algorithm {alg!r} does not fit its key type")
            algorithms = (alg,)
        kid = entry.get("kid")
        keys.append(TrustedKey(kid if isinstance(kid, str) else None, jwk.key, algorithms))
    if not keys:
        raise InvalidInput(f"{source}: the JWKS holds no signing key")
    return tuple(keys)


class TrustedKeys:
    """The keys a token server signs with: fixed ones (certificates, a JWKS file) plus, with a JWKS
    URL, the ones last fetched from it. One per authenticator; :meth:`candidates` is safe to await
    from many requests at once (one fetch at a time)."""

    def __init__(self, fixed: tuple[TrustedKey, ...], jwks_url: str | None) -> None:
        self._fixed = fixed
        self._url = jwks_url
        self._fetched: tuple[TrustedKey, ...] = ()
        self._fetched_at = -REFETCH_INTERVAL
        self._lock = asyncio.Lock()

    @classmethod
    def load(cls, root_cert_bundle: Path | None, jwks: str | None) -> TrustedKeys:
        """Keys from a certificate bundle file and/or a JWKS file or URL (a URL is fetched later).

        Raises:
            InvalidInput: a file that cannot be read or holds no usable key.
        """
        fixed: list[TrustedKey] = []
        if root_cert_bundle is not None:
            fixed += keys_from_pem_bundle(_read(root_cert_bundle, "root_cert_bundle"), str(root_cert_bundle))
        url = None
        if jwks is not None:
            if jwks.startswith(("http://", "https://")):
                url = jwks
            else:
                try:
                    document = json.loads(_read(Path(jwks), "jwks"))
                except ValueError as err:
                    raise InvalidInput(f"config: {jwks}: not JSON ({err})") from err
                try:
                    fixed += keys_from_jwks(document, jwks)
                except InvalidInput as err:
                    raise InvalidInput(f"config: {err}") from err
        return cls(tuple(fixed), url)

    async def candidates(self, kid: str | None, algorithm: str) -> list[TrustedKey]:
        """The keys that may have signed a token with header ``kid`` and ``alg``: the key with that
        id when one is held (fetching the JWKS URL again if it is not, at most every
        :data:`REFETCH_INTERVAL`), else every key of that algorithm."""
        if self._url is not None and (not self._fetched or (kid is not None and not self._holds(kid))):
            await self._refetch()
        usable = [key for key in (*self._fixed, *self._fetched) if algorithm in key.algorithms]
        if kid is not None:
            named = [key for key in usable if key.kid == kid]
            if named:
                return named
        return usable

    def _holds(self, kid: str) -> bool:
        return any(key.kid == kid for key in (*self._fixed, *self._fetched))

    async def _refetch(self) -> None:
        async with self._lock:
            if time.monotonic() - self._fetched_at < REFETCH_INTERVAL:
                return
            self._fetched_at = time.monotonic()
            assert self._url is not None
            try:
                self._fetched = await asyncio.to_thread(_fetch_jwks, self._url)
            except (OSError, ValueError, InvalidInput) as err:
                # keep the keys we had; tokens signed by them still verify
                log.warning("could not fetch the token server's keys from %s: %s", self._url, err)


def _read(path: Path, key: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as err:
        raise InvalidInput(f"config: auth.token_server.{key}: cannot read {path}: {err.strerror}") from err


def _fetch_jwks(url: str) -> tuple[TrustedKey, ...]:
    """GET a JWKS URL (on a thread: blocking I/O)."""
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    with urllib.request.urlopen(request, timeout=_FETCH_TIMEOUT) as response:
        body = response.read(_MAX_JWKS_BYTES + 1)
    if len(body) > _MAX_JWKS_BYTES:
        raise ValueError("JWKS larger than 1 MiB")
    return keys_from_jwks(json.loads(body), url)
