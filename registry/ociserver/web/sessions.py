"""The web page's sign-in session: a signed, expiring cookie value naming the user.

``base64url(json{"sub", "exp"}).base64url(hmac_sha256)`` under a key derived from the registry's
token secret with a label of its own, so a session value is never a valid Bearer token and a token
is never a valid session. The cookie holds no password and no token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

__all__ = ["COOKIE", "SessionSigner"]

#: The session cookie's name.
COOKIE = "ollama_py_session"

_LABEL = b"ollama-py registry web session v1"


class SessionSigner:
    """Signs and checks session values for one secret."""

    def __init__(self, secret: bytes, ttl: float) -> None:
        self._key = hmac.new(secret, _LABEL, hashlib.sha256).digest()
        self.ttl = ttl

    def issue(self, user: str, now: float | None = None) -> str:
        """A session value for ``user`` valid for ``ttl`` seconds."""
        payload = {"sub": user, "exp": (now or time.time()) + self.ttl}
        body = _b64(json.dumps(payload, separators=(",", ":")).encode())
        return f"{body}.{self._sign(body)}"

    def user(self, value: str, now: float | None = None) -> str | None:
        """The user a session value names, or None when it is forged, malformed or expired."""
        if not value.isascii() or len(value) > 4096:
            return None
        body, _, signature = value.partition(".")
        if not signature or not hmac.compare_digest(signature, self._sign(body)):
            return None
        try:
            payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        except (ValueError, RecursionError):
            return None
        if not isinstance(payload, dict):
            return None
        sub, exp = payload.get("sub"), payload.get("exp")
        if not isinstance(sub, str) or not sub or isinstance(exp, bool) or not isinstance(exp, int | float):
            return None
        return sub if exp >= (now or time.time()) else None

    def _sign(self, body: str) -> str:
        return _b64(hmac.new(self._key, body.encode(), hashlib.sha256).digest())


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
