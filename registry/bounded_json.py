"""JSON decoding that no document can crash or exhaust: one home for every parser of untrusted JSON.

Python's ``json`` recurses once per nesting level, so a document nested a few thousand levels deep
raises :class:`RecursionError` (here, or later in any code that walks the value), and it accepts the
literals ``NaN``/``Infinity`` and numbers beyond a double, which Go's ``encoding/json`` (Ollama's,
distribution's) refuses. :func:`loads_bounded` turns all of that into one :class:`ValueError` that
callers map to their own 4xx. Pure: no I/O, no state.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["JsonTooDeep", "loads_bounded", "nests_deeper_than"]


class JsonTooDeep(ValueError):
    """The document nests arrays/objects deeper than the caller's limit."""


def _invalid_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"number {text[:40]} is out of range")
    return value


def _brackets(data: bytes | str) -> int:
    """How many ``[`` and ``{`` ``data`` holds: a document with no more cannot nest deeper (cheap)."""
    if isinstance(data, str):
        return data.count("[") + data.count("{")
    return data.count(b"[") + data.count(b"{")


def nests_deeper_than(value: Any, limit: int) -> bool:
    """True when ``value`` nests arrays/objects more than ``limit`` levels deep (iterative: no recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if not isinstance(node, dict | list):
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in (node.values() if isinstance(node, dict) else node))
    return False


def loads_bounded(data: bytes | str, max_depth: int, *, strict_numbers: bool = True) -> Any:
    """Decode ``data`` as JSON nested at most ``max_depth`` levels.

    ``strict_numbers`` refuses ``NaN``, ``Infinity`` and numbers beyond a double, as Go does.

    Raises:
        JsonTooDeep: nested deeper than ``max_depth``.
        ValueError: not UTF-8 JSON, or a number Python cannot convert (an int of 5,000 digits) or,
            with ``strict_numbers``, Go would refuse. Never RecursionError.
    """
    too_deep = f"nested more than {max_depth} levels deep"
    hooks: dict[str, Any] = (
        {"parse_constant": _invalid_constant, "parse_float": _finite_float} if strict_numbers else {}
    )
    try:
        value = json.loads(data, **hooks)
    except RecursionError:
        raise JsonTooDeep(too_deep) from None
    if isinstance(value, dict | list) and _brackets(data) > max_depth and nests_deeper_than(value, max_depth):
        raise JsonTooDeep(too_deep)
    return value
