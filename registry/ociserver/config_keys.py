"""The registry config's known keys: an unknown key or section is an error naming its line and the
nearest valid key (``anonymous_pul`` -> ``anonymous_pull``), never silently ignored.

Only names are checked here; values are checked where they are parsed (:mod:`.settings`,
:mod:`.auth.access_model`).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from registry.errors import InvalidInput

__all__ = ["check_known_keys"]

#: A table is a dict of its keys; an array of tables is a one-element list of the item's table;
#: a plain value is None.
Schema = Mapping[str, Any]

_S3: Schema = dict.fromkeys(
    (
        "bucket",
        "endpoint_url",
        "region",
        "access_key",
        "secret_key",
        "prefix",
        "redirect",
        "presign_seconds",
        "create_bucket",
    )
)

KNOWN: Schema = {
    "server": dict.fromkeys(
        (
            "listen",
            "max_manifest_bytes",
            "max_upload_bytes",
            "allow_insecure_public",
            "upload_max_age",
            "tag_cache",
            "access_log",
        )
    ),
    "storage": {**dict.fromkeys(("root", "database_url", "uploads_dir", "backend")), "s3": _S3},
    "gc": dict.fromkeys(("interval", "grace")),
    "mirror": dict.fromkeys(("upstream", "tag_ttl", "username", "password", "docker_config")),
    "auth": {
        **dict.fromkeys(
            (
                "scheme",
                "anonymous_pull",
                "token_secret",
                "token_ttl",
                "realm",
                "max_failed_logins",
                "failed_login_window",
                "password_threads",
            )
        ),
        "users": [dict.fromkeys(("name", "password_hash"))],
        "tokens": [dict.fromkeys(("name", "token"))],
        "rules": [dict.fromkeys(("repository", "users", "actions"))],
        "token_server": dict.fromkeys(("realm", "service", "issuer", "root_cert_bundle", "jwks")),
    },
}


def check_known_keys(doc: Mapping[str, Any], text: str, path: Path, schema: Schema = KNOWN) -> None:
    """Refuse the first key or section of ``doc`` (parsed from ``text``, read from ``path``) that
    ``schema`` does not know.

    Raises:
        InvalidInput: ``PATH:LINE: unknown key 'k' in [table]; did you mean 'key'?`` (the line
            where it appears; the suggestion when one is close enough).
    """
    unknown = _first_unknown(doc, schema, ())
    if unknown is None:
        return
    where, candidates = unknown
    line = _line_of(text, where)
    prefix = f"{path}:{line}:" if line else f"{path}:"
    name = where[-1]
    table = ".".join(where[:-1])
    if not table:
        what = f"unknown section [{name}]" if isinstance(doc.get(name), dict) else f"unknown key {name!r}"
    else:
        what = f"unknown key {name!r} in [{table}]"
    close = difflib.get_close_matches(name.strip(), candidates, n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else f" (known: {', '.join(sorted(candidates))})"
    raise InvalidInput(f"{prefix} {what}{hint}")


def _first_unknown(
    doc: Mapping[str, Any], schema: Schema, where: tuple[str, ...]
) -> tuple[tuple[str, ...], list[str]] | None:
    for key, value in doc.items():
        if key not in schema:
            return (*where, key), list(schema)
        sub = schema[key]
        found = None
        if isinstance(sub, Mapping) and isinstance(value, Mapping):
            found = _first_unknown(value, sub, (*where, key))
        elif isinstance(sub, list) and isinstance(value, list):
            for item in value:
                if isinstance(item, Mapping):
                    found = found or _first_unknown(item, sub[0], (*where, key))
        if found is not None:
            return found
    return None


_HEADER = re.compile(r"\s*\[\[?(?P<name>[^\]]*)\]\]?\s*(#.*)?$")
_KEY = re.compile(r"\s*(?P<key>(?:\"[^\"]*\"|'[^']*'|[^=\"'#\[])+?)\s*=")


def _parts(dotted: str) -> tuple[str, ...]:
    """``a."b c".d`` -> ``("a", "b c", "d")`` (quoted parts may hold dots and spaces)."""
    parts = re.findall(r"\"([^\"]*)\"|'([^']*)'|([^.\s\"']+)", dotted)
    return tuple(next(p for p in groups if p) if any(groups) else "" for groups in parts)


def _line_of(text: str, where: tuple[str, ...]) -> int | None:
    """The 1-based line where the key or table ``where`` first appears (None if not found: a value
    inside a multi-line construct)."""
    table: tuple[str, ...] = ()
    for number, line in enumerate(text.splitlines(), 1):
        header = _HEADER.match(line)
        if header is not None:
            table = _parts(header.group("name"))
            if table[: len(where)] == where:
                return number
            continue
        key = _KEY.match(line)
        if key is not None and (*table, *_parts(key.group("key")))[: len(where)] == where:
            return number
    return None
