"""Basic credentials per registry host, read from docker's ``config.json`` (``auths`` section).

    {"auths": {"registry.example.com": {"auth": "<base64 user:password>"},
               "https://other:5000/v1/": {"username": "u", "password": "p"}}}

Keys are normalised to ``host[:port]`` (scheme and path dropped). Credentials are only ever handed
out for the exact host they are stored under: the transport never sends them anywhere else.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from registry.errors import InvalidInput

__all__ = [
    "BasicCredentials",
    "CredentialStore",
    "normalise_host",
    "remove_docker_login",
    "save_docker_login",
]


@dataclass(frozen=True, slots=True)
class BasicCredentials:
    """A username and password for one registry host."""

    username: str
    password: str = field(repr=False)

    def header(self) -> str:
        """The ``Authorization`` header value."""
        raw = f"{self.username}:{self.password}".encode()
        return "Basic " + base64.b64encode(raw).decode()


def normalise_host(key: str) -> str:
    """``https://host:5000/v1/`` -> ``host:5000``; ``host`` stays ``host``; lower-cased."""
    text = key.strip()
    if "://" not in text:
        text = "//" + text
    return (urlsplit(text).netloc or key).lower()


@dataclass(frozen=True, slots=True)
class CredentialStore:
    """Credentials by normalised host. Immutable."""

    by_host: Mapping[str, BasicCredentials] = field(default_factory=dict)

    def lookup(self, host: str) -> BasicCredentials | None:
        """Credentials stored for exactly ``host`` (``host[:port]``), or None."""
        return self.by_host.get(host.lower())

    @classmethod
    def from_docker_config(cls, path: Path) -> CredentialStore:
        """Read ``auths`` from a docker ``config.json``; a missing file gives an empty store.

        Raises:
            InvalidInput: the file exists but is not valid JSON or an entry is malformed.
        """
        try:
            text = path.read_text()
        except FileNotFoundError:
            return cls()
        try:
            doc = json.loads(text)
        except ValueError as err:
            raise InvalidInput(f"invalid credentials file {path}: {err}") from err
        auths = doc.get("auths") if isinstance(doc, dict) else None
        if not isinstance(auths, dict):
            return cls()
        found: dict[str, BasicCredentials] = {}
        for key, entry in auths.items():
            creds = _entry_credentials(entry, key, path)
            if creds is not None:
                found[normalise_host(key)] = creds
        return cls(found)


def _entry_credentials(entry: object, key: str, path: Path) -> BasicCredentials | None:
    if not isinstance(entry, dict):
        return None
    if isinstance(entry.get("username"), str) and isinstance(entry.get("password"), str):
        return BasicCredentials(entry["username"], entry["password"])
    auth = entry.get("auth")
    if not isinstance(auth, str) or not auth:
        return None
    try:
        user, sep, password = base64.b64decode(auth, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError) as err:
        raise InvalidInput(f"invalid credentials file {path}: 'auth' for {key!r} is not base64") from err
    if not sep:
        raise InvalidInput(f"invalid credentials file {path}: 'auth' for {key!r} is not user:password")
    return BasicCredentials(user, password)


def save_docker_login(path: Path, host: str, credentials: BasicCredentials) -> None:
    """Store ``credentials`` for ``host`` in a docker ``config.json`` as ``docker login`` does
    (``auths[host].auth`` = base64 ``user:password``), replacing any entry that names the same host
    and keeping every other key. The file is written whole (a temporary file renamed over it) with
    mode 0600.

    Raises:
        InvalidInput: the existing file is not valid JSON.
    """
    doc = _config_document(path)
    auths = {k: v for k, v in doc.get("auths", {}).items() if normalise_host(k) != host.lower()}
    raw = f"{credentials.username}:{credentials.password}".encode()
    auths[host] = {"auth": base64.b64encode(raw).decode()}
    doc["auths"] = auths
    _write_private(path, doc)


def remove_docker_login(path: Path, host: str) -> bool:
    """Remove every entry for ``host`` from a docker ``config.json`` (keeping the rest); False when
    there was none.

    Raises:
        InvalidInput: the existing file is not valid JSON.
    """
    doc = _config_document(path)
    auths = doc.get("auths", {})
    kept = {k: v for k, v in auths.items() if normalise_host(k) != host.lower()}
    if len(kept) == len(auths):
        return False
    doc["auths"] = kept
    _write_private(path, doc)
    return True


def _config_document(path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except ValueError as err:
        raise InvalidInput(f"invalid credentials file {path}: {err}") from err
    if not isinstance(doc, dict):
        raise InvalidInput(f"invalid credentials file {path}: not a JSON object")
    if not isinstance(doc.get("auths", {}), dict):
        raise InvalidInput(f"invalid credentials file {path}: 'auths' is not an object")
    return doc


def _write_private(path: Path, doc: Mapping[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(doc, out, indent="\t")
        out.write("\n")
    os.replace(tmp, path)
