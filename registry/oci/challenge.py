"""``WWW-Authenticate`` challenges (RFC 7235) as the Docker token protocol sends them (pure; no I/O).

A registry answering 401 says how to authenticate: ``Bearer realm="...",service="...",scope="..."``
(fetch a token from ``realm``) or ``Basic realm="..."``. :func:`parse_challenges` turns the header into
:class:`Challenge` values; what to do with them is the client's business (:mod:`registry.remote.auth`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

__all__ = ["Challenge", "parse_challenges"]

_SCHEME_RE = re.compile(r"([A-Za-z][A-Za-z0-9_-]*)\s*")
_PARAM_RE = re.compile(r'\s*([A-Za-z0-9_.-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))\s*,?')


@dataclass(frozen=True, slots=True)
class Challenge:
    """One parsed ``WWW-Authenticate`` challenge: the scheme (lower case) and its parameters (names in
    lower case, values unquoted)."""

    scheme: str
    params: dict[str, str] = field(default_factory=dict)


def parse_challenges(header: str) -> list[Challenge]:
    """Parse a ``WWW-Authenticate`` value (one or more challenges). Tolerates odd quoting."""
    out: list[Challenge] = []
    rest = header.strip()
    while rest:
        match = _SCHEME_RE.match(rest)
        if match is None:
            break
        scheme = match.group(1).lower()
        rest = rest[match.end() :]
        params: dict[str, str] = {}
        while True:
            pm = _PARAM_RE.match(rest)
            if pm is None or (pm.group(2) is None and not pm.group(3) and "=" not in pm.group(0)):
                break
            value = pm.group(2) if pm.group(2) is not None else pm.group(3)
            params[pm.group(1).lower()] = re.sub(r"\\(.)", r"\1", value)
            rest = rest[pm.end() :]
        out.append(Challenge(scheme, params))
        rest = rest.lstrip(", ")
    return out
