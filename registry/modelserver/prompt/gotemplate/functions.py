"""Go template values (dicts as structs, list views, JSON text) and the built-in functions."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator, Sequence
from typing import Any

from registry.modelserver.prompt.gotemplate.budget import TemplateError

__all__ = ["FUNCTIONS", "JOINING", "JsonValue", "ListView", "field_of", "text_of", "truth", "unwrap"]


class ListView(Sequence[Any]):
    """``slice`` of a list: Go slices share their array, so this does not copy."""

    __slots__ = ("_base", "_start", "_stop")

    def __init__(self, base: Sequence[Any], start: int, stop: int) -> None:
        self._base, self._start, self._stop = base, start, stop

    def __len__(self) -> int:
        return self._stop - self._start

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            start, stop, _ = index.indices(len(self))
            return ListView(self._base, self._start + start, self._start + max(start, stop))
        if not -len(self) <= index < len(self):
            raise IndexError("index out of range")
        return self._base[self._start + index % len(self)]

    def __iter__(self) -> Iterator[Any]:
        for i in range(self._start, self._stop):
            yield self._base[i]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sequence) and not isinstance(other, str) and list(self) == list(other)

    __hash__ = None  # type: ignore[assignment]


class JsonValue:
    """A value that prints as compact JSON (Ollama's ToolCallFunctionArguments / Tool ``String``)
    while still allowing field access.

    ``fields`` makes it a Go struct: the zero value of each field (by Go name) that the JSON may
    leave out, printed as Go prints it instead of ``<no value>``; a dict there is the fields of a
    nested struct.
    """

    def __init__(self, value: Any, fields: dict[str, Any] | None = None) -> None:
        self.value = value
        self.fields = fields or {}

    def __str__(self) -> str:
        return json.dumps(self.value, separators=(",", ":"), ensure_ascii=False)


# -- values and functions --------------------------------------------------------------------------------------


def truth(value: Any) -> bool:
    if isinstance(value, JsonValue):
        return truth(value.value)
    return bool(value)


def field_of(value: Any, name: str) -> Any:
    """Go field ``Name`` on a dict: the key ``Name``, else its JSON spelling (``name``, and
    ``tool_calls`` for ``ToolCalls``); JSON-printing values stay JSON-printing, and a missing field
    of a :class:`JsonValue` struct is its zero value."""
    fields: dict[str, Any] | None = None
    wrap = isinstance(value, JsonValue)
    if wrap:
        fields = value.fields
        value = value.value
    if not isinstance(value, dict):
        return None  # fields exist on maps only: never Python attributes (``__class__``, ``upper``)
    key = _key_of(value, name)
    nested = fields.get(name) if fields else None
    if key is None:
        if fields and name in fields:
            return JsonValue({}, nested) if isinstance(nested, dict) else nested
        return None
    found = value[key]
    if isinstance(nested, dict) and isinstance(found, dict):
        return JsonValue(found, nested)
    return JsonValue(found) if wrap and isinstance(found, dict | list) else found


def _key_of(value: dict[Any, Any], name: str) -> str | None:
    """The key of ``value`` that Go field ``name`` reads, or None."""
    if name in value:
        return name
    key = name[:1].lower() + name[1:]
    if key in value:
        return key
    key = re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()
    return key if key in value else None


def text_of(value: Any) -> str:
    if value is None:
        return "<no value>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value or 0))
    if isinstance(value, list | ListView):
        return "[" + " ".join(text_of(v) for v in value) + "]"
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{text_of(v)}" for k, v in sorted(value.items())) + "]"
    return str(value)


def unwrap(value: Any) -> Any:
    return value.value if isinstance(value, JsonValue) else value


def _plain(value: Any) -> Any:
    """What ``json`` encodes for our wrapper types."""
    if isinstance(value, ListView):
        return list(value)
    if isinstance(value, JsonValue):
        return value.value
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


def _json(value: Any) -> str:
    return json.dumps(unwrap(value), separators=(",", ":"), ensure_ascii=False, default=_plain)


def _printf(fmt: str, *args: Any) -> str:
    values = list(args)

    def repl(m: re.Match[str]) -> str:
        verb = m.group(2)
        if verb == "%":
            return "%"
        value = values.pop(0) if values else None
        if verb == "q":
            return json.dumps(text_of(value))
        if verb == "d":
            return str(int(value or 0))
        return text_of(value)

    return re.sub(r"%([-+ #0-9.]*)([vsdqtfgx%])", repl, fmt)


def _compare(op: str) -> Any:
    def fn(a: Any, b: Any) -> bool:
        a, b = unwrap(a), unwrap(b)
        try:
            return bool({"lt": a < b, "le": a <= b, "gt": a > b, "ge": a >= b}[op])
        except TypeError as err:
            raise TemplateError(f"{op}: incompatible types for comparison") from err

    return fn


def _slice(value: Any, *idx: Any) -> Any:
    value = unwrap(value)
    if len(idx) > 2:
        raise TemplateError("slice: at most two indexes are supported")
    start, stop = (int(idx[0]) if idx else None), (int(idx[1]) if len(idx) > 1 else None)
    bounds = slice(start, stop)
    if isinstance(value, ListView):
        return value[bounds]  # a view of the same list, never a view of a view
    if isinstance(value, list):
        first, last, _ = bounds.indices(len(value))
        return ListView(value, first, max(first, last))
    return value[bounds]


def _index(value: Any, *keys: Any) -> Any:
    value = unwrap(value)
    for key in keys:
        try:
            value = unwrap(value)[key]
        except (KeyError, IndexError, TypeError) as err:
            raise TemplateError(f"index of {key!r}: {err}") from err
    return value


FUNCTIONS: dict[str, Any] = {
    "not": lambda v: not truth(v),
    "eq": lambda a, *bs: any(unwrap(a) == unwrap(b) for b in bs),
    "ne": lambda a, b: unwrap(a) != unwrap(b),
    "lt": _compare("lt"),
    "le": _compare("le"),
    "gt": _compare("gt"),
    "ge": _compare("ge"),
    "len": lambda v: len(unwrap(v) or []),
    "slice": _slice,
    "index": _index,
    "json": _json,
    "printf": _printf,
    "print": lambda *a: "".join(text_of(x) for x in a),
    "println": lambda *a: " ".join(text_of(x) for x in a) + "\n",
    "html": lambda v: text_of(v).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"),
    "urlquery": lambda v: text_of(v),
    "currentDate": lambda: time.strftime("%Y-%m-%d"),
    "and": None,  # short-circuit, handled in _call
    "or": None,
}


#: Functions whose result joins their arguments' text: room is checked before they run.
JOINING = frozenset({"print", "println", "printf"})
