"""The access model: users with hashed passwords, static tokens, per-repository rules.

- A **user** has a bcrypt (``$2b$``) or argon2 (``$argon2``, when argon2-cffi is installed) hash.
- A **static token** (sent as ``Authorization: Bearer <token>``) acts as the user named after it.
- A **rule** grants ``actions`` (``pull``, ``push``, ``delete``) on repositories matching a glob
  (``*`` does not cross ``/``; ``**`` does) to listed users (``"*"`` = any authenticated user,
  ``"anonymous"`` = unauthenticated clients). With no rules, every authenticated identity may do
  everything. ``anonymous_pull = true`` lets anyone pull everything.
- Bearer tokens from the token endpoint are JWTs (HS256 under ``token_secret``) and short-lived.
- ``[auth.token_server]`` trusts an external Docker token server instead (``realm``, ``service``,
  ``issuer``, and its public keys as ``root_cert_bundle`` and/or ``jwks``): the registry then only
  verifies its tokens, whose ``access`` claim is the whole grant (no ``[[auth.rules]]``).
- Failed logins are limited to ``max_failed_logins`` (default 10; 0 = no limit) per user and per
  client address within ``failed_login_window`` (default 60 s); more get 429 with ``Retry-After``.
  Password hashes are checked on ``password_threads`` (default 2) threads of their own.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from registry.errors import InvalidInput
from registry.ociserver.auth.token_keys import TrustedKeys

__all__ = ["ACTIONS", "ANONYMOUS", "SERVICE", "AccessRule", "AuthConfig", "TokenServer", "parse_auth"]

#: The service (token audience) and issuer of the built-in token endpoint.
SERVICE = "ollama-py-registry"

ANONYMOUS = "anonymous"
ACTIONS = frozenset({"pull", "push", "delete"})


@dataclass(frozen=True, slots=True)
class AccessRule:
    """Who may do what on which repositories."""

    pattern: re.Pattern[str]
    users: frozenset[str]
    actions: frozenset[str]

    def grants(self, identity: str, repo: str) -> frozenset[str]:
        """The actions this rule grants ``identity`` on ``repo`` (empty when it does not apply)."""
        if not self.pattern.fullmatch(repo):
            return frozenset()
        if identity in self.users or (identity != ANONYMOUS and "*" in self.users):
            return self.actions
        return frozenset()


@dataclass(frozen=True, slots=True)
class TokenServer:
    """An external Docker token server the registry trusts (``[auth.token_server]``)."""

    realm: str
    service: str
    issuer: str
    keys: TrustedKeys


@dataclass(frozen=True, slots=True)
class AuthConfig:
    """Parsed ``[auth]`` section."""

    users: Mapping[str, str]
    tokens: Mapping[str, str]  # token -> identity
    rules: tuple[AccessRule, ...]
    anonymous_pull: bool
    token_secret: bytes
    token_ttl: float
    realm: str
    bearer: bool
    max_failed_logins: int = 10
    failed_login_window: float = 60.0
    password_threads: int = 2
    token_server: TokenServer | None = None

    def allowed(self, identity: str, repo: str) -> frozenset[str]:
        """Every action ``identity`` may take on ``repo``."""
        granted: set[str] = set()
        if identity == ANONYMOUS:
            if self.anonymous_pull:
                granted.add("pull")
        elif not self.rules:
            return ACTIONS
        for rule in self.rules:
            granted |= rule.grants(identity, repo)
        return frozenset(granted)

    def may_pull(self, identity: str) -> Callable[[str], bool]:
        """A predicate equal to ``"pull" in self.allowed(identity, repo)``, built once to test many
        names (a listing of 10,000 repositories): one regular expression for all the rules that
        grant ``identity`` a pull."""
        if identity == ANONYMOUS:
            if self.anonymous_pull:
                return _always
        elif not self.rules:
            return _always
        patterns = [
            rule.pattern.pattern
            for rule in self.rules
            if "pull" in rule.actions
            and (identity in rule.users or (identity != ANONYMOUS and "*" in rule.users))
        ]
        if not patterns:
            return _never
        combined = re.compile("|".join(f"(?:{pattern})" for pattern in patterns))
        return lambda repo: combined.fullmatch(repo) is not None


def _always(_repo: str) -> bool:
    return True


def _never(_repo: str) -> bool:
    return False


def glob_to_regex(glob: str) -> re.Pattern[str]:
    """``*`` matches within one path component, ``**`` across components."""
    out = []
    i = 0
    while i < len(glob):
        if glob.startswith("**", i):
            out.append(".*")
            i += 2
        elif glob[i] == "*":
            out.append("[^/]*")
            i += 1
        else:
            out.append(re.escape(glob[i]))
            i += 1
    return re.compile("".join(out))


def parse_auth(table: Mapping[str, Any], seconds: Callable[[object, str], float]) -> AuthConfig:
    """Parse and check the ``[auth]`` table.

    Raises:
        InvalidInput: a missing or malformed entry, named in the message.
    """
    users: dict[str, str] = {}
    for entry in _list(table, "users"):
        name, hashed = str(entry.get("name", "")), str(entry.get("password_hash", ""))
        if not name or not hashed.startswith(("$2a$", "$2b$", "$2y$", "$argon2")):
            raise InvalidInput(
                "config: each [[auth.users]] needs a name and a bcrypt or argon2 password_hash"
            )
        users[name] = hashed
    tokens: dict[str, str] = {}
    for entry in _list(table, "tokens"):
        token, name = str(entry.get("token", "")), str(entry.get("name", ""))
        if len(token) < 16 or not name:
            raise InvalidInput("config: each [[auth.tokens]] needs a name and a token of 16+ characters")
        tokens[token] = name
    rules = []
    for entry in _list(table, "rules"):
        actions = frozenset(str(a) for a in entry.get("actions", ["pull"]))
        if not actions <= ACTIONS or "repository" not in entry:
            raise InvalidInput(
                f"config: [[auth.rules]] needs a repository and actions among {sorted(ACTIONS)}"
            )
        rules.append(
            AccessRule(
                glob_to_regex(str(entry["repository"])),
                frozenset(map(str, entry.get("users", ["*"]))),
                actions,
            )
        )
    secret = str(table.get("token_secret", "")) or secrets.token_hex(32)
    token_server = _token_server(table)
    if token_server is not None and rules:
        raise InvalidInput(
            "config: [[auth.rules]] do not apply with [auth.token_server]: its tokens' access claims"
            " are the whole grant"
        )
    if token_server is not None and str(table.get("scheme", "bearer")) != "bearer":
        raise InvalidInput('config: [auth.token_server] needs scheme = "bearer"')
    return AuthConfig(
        users=users,
        tokens=tokens,
        rules=tuple(rules),
        anonymous_pull=bool(table.get("anonymous_pull", False)),
        token_secret=secret.encode(),
        token_ttl=seconds(table.get("token_ttl", 300), "auth.token_ttl"),
        realm=str(table.get("realm", "ollama-py registry")),
        bearer=str(table.get("scheme", "bearer")) == "bearer",
        max_failed_logins=_count(table, "max_failed_logins", 10, 0, 1_000_000),
        failed_login_window=seconds(table.get("failed_login_window", 60), "auth.failed_login_window"),
        password_threads=_count(table, "password_threads", 2, 1, 64),
        token_server=token_server,
    )


def _token_server(table: Mapping[str, Any]) -> TokenServer | None:
    """The ``[auth.token_server]`` table, its key files read (a JWKS URL is fetched when needed).

    Raises:
        InvalidInput: a missing or malformed entry, or a key file without a usable key.
    """
    if "token_server" not in table:
        return None
    server = table["token_server"]
    if not isinstance(server, dict):
        raise InvalidInput("config: auth.token_server must be a table")
    values = {}
    for key in ("realm", "service", "issuer"):
        value = server.get(key)
        if not isinstance(value, str) or not value.strip():
            raise InvalidInput(f"config: auth.token_server.{key} must be a non-empty string")
        values[key] = value
    if not values["realm"].startswith(("http://", "https://")):
        raise InvalidInput("config: auth.token_server.realm must be an http:// or https:// URL")
    bundle, jwks = server.get("root_cert_bundle"), server.get("jwks")
    if bundle is None and jwks is None:
        raise InvalidInput(
            "config: auth.token_server needs the token server's public keys: root_cert_bundle"
            " (PEM certificates) and/or jwks (a JWKS file or URL)"
        )
    for key, value in (("root_cert_bundle", bundle), ("jwks", jwks)):
        if value is not None and (not isinstance(value, str) or not value):
            raise InvalidInput(f"config: auth.token_server.{key} must be a non-empty string")
    keys = TrustedKeys.load(Path(bundle) if bundle else None, jwks or None)
    return TokenServer(values["realm"], values["service"], values["issuer"], keys)


def _count(table: Mapping[str, Any], key: str, default: int, low: int, high: int) -> int:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidInput(f"config: auth.{key} must be a whole number from {low} to {high}")
    return value


def _list(table: Mapping[str, Any], key: str) -> list[dict[str, Any]]:
    value = table.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise InvalidInput(f"config: auth.{key} must be an array of tables")
    return value
