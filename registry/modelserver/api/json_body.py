"""Request bodies as JSON objects, decoded so that no body can crash or exhaust the server.

Stricter than Python's ``json`` and as strict as Go's ``encoding/json`` (which Ollama uses): the
literals ``NaN``, ``Infinity`` and ``-Infinity`` and numbers beyond a double (``1e400``) are
invalid JSON. On top of Go: at most :data:`MAX_JSON_DEPTH` levels of nested arrays and objects
(everything downstream may then recurse safely), and at most :data:`MAX_JSON_CONTAINERS` arrays,
objects and strings (decoded Python objects are ~20x the size of their JSON text; this bounds it),
counted before decoding; brackets and quotes inside strings are not counted.
"""

from __future__ import annotations

import re
from typing import Any

from registry import errors
from registry.bounded_json import JsonTooDeep, loads_bounded

__all__ = ["MAX_JSON_CONTAINERS", "MAX_JSON_DEPTH", "body_field", "decode_json", "decode_json_object"]

#: Nesting deeper than this is refused (JSON schemas and tool definitions need a few dozen levels).
MAX_JSON_DEPTH = 100

#: At most this many arrays, objects and strings in one body.
MAX_JSON_CONTAINERS = 2_000_000


_ESCAPE = re.compile(rb"\\.", re.S)
_STRING = re.compile(rb'"[^"]*"')


def _containers(data: bytes) -> int:
    """The arrays, objects and strings of JSON text ``data``, not counting brackets and quotes
    inside its strings (a pasted document is one string); linear, no decoding."""
    unescaped = _ESCAPE.sub(b"", data)  # no \" left: every remaining quote opens or closes a string
    outside = _STRING.sub(b"", unescaped)
    return outside.count(b"[") + outside.count(b"{") + unescaped.count(b'"') // 2


def decode_json(raw: bytes | str, *, what: str = "request body") -> Any:
    """Decode ``raw`` with the limits above; ``what`` names it in messages.

    Raises:
        errors.InvalidInput: invalid JSON, too deep, or too many values (400, never a 500).
    """
    data = raw.encode() if isinstance(raw, str) else raw
    too_deep = f"invalid JSON in {what}: nested more than {MAX_JSON_DEPTH} levels deep"
    brackets = data.count(b"[") + data.count(b"{")
    if brackets + data.count(b'"') // 2 > MAX_JSON_CONTAINERS and _containers(data) > MAX_JSON_CONTAINERS:
        raise errors.InvalidInput(
            f"invalid JSON in {what}: more than {MAX_JSON_CONTAINERS} arrays, objects and strings"
        )
    try:
        return loads_bounded(data, MAX_JSON_DEPTH)
    except JsonTooDeep:
        raise errors.InvalidInput(too_deep) from None
    except ValueError as err:  # JSONDecodeError, bad UTF-8, NaN, 1e400, an int of 5,000 digits
        raise errors.InvalidInput(f"invalid JSON in {what}: {err}") from err


def decode_json_object(raw: bytes, *, what: str = "request body") -> dict[str, Any]:
    """:func:`decode_json` of a body that must be a JSON object.

    Raises:
        errors.InvalidInput: empty, invalid (see :func:`decode_json`) or not an object.
    """
    if not raw.strip():
        raise errors.InvalidInput(f"missing {what}")
    value = decode_json(raw, what=what)
    if not isinstance(value, dict):
        raise errors.InvalidInput(f"{what} must be a JSON object")
    return value


def body_field(body: dict[str, Any], key: str, kind: type | tuple[type, ...], default: Any = None) -> Any:
    """``body[key]`` (``default`` when absent), refused unless null or of type ``kind``.

    Raises:
        errors.InvalidInput: ``invalid value for field '<key>': expected <kind>``.
    """
    value = body.get(key, default)
    if value is not None and not isinstance(value, kind):
        names = {str: "string", bool: "boolean", list: "array", dict: "object"}
        kind_name = names.get(kind, "value") if isinstance(kind, type) else "value"
        raise errors.InvalidInput(f"invalid value for field {key!r}: expected {kind_name}")
    return value
