"""Finding tool calls in model output: JSON objects naming a known tool, bare or wrapped in the
usual markers (``<tool_call>``, ``[TOOL_CALLS]``, code fences). Pure."""

from __future__ import annotations

import json
import re
import secrets
import string
from collections.abc import Iterable
from typing import Any

__all__ = ["ToolCall", "parse_tool_calls"]

ToolCall = dict[str, Any]

_WRAPPERS = re.compile(r"</?tool_call>|\[TOOL_CALLS\]|```(?:json)?|<\|python_tag\|>|<tool_call\|>")
_ALPHABET = string.ascii_lowercase + string.digits


def _call_id() -> str:
    return "call_" + "".join(secrets.choice(_ALPHABET) for _ in range(8))


def _as_call(value: Any, names: set[str] | None) -> ToolCall | None:
    if not isinstance(value, dict):
        return None
    if isinstance(value.get("function"), dict):
        value = value["function"]
    name = value.get("name")
    args = value.get("arguments", value.get("parameters", {}))
    if isinstance(args, str):
        try:
            args = json.loads(args)
        except ValueError:
            return None
    if not isinstance(name, str) or not isinstance(args, dict):
        return None
    if names is not None and name not in names:
        return None
    return {"name": name, "arguments": args}


def parse_tool_calls(text: str, tool_names: Iterable[str] | None = None) -> tuple[list[ToolCall], str]:
    """``(calls, remaining_content)``. Each call is ``{"id", "function": {"index", "name",
    "arguments"}}`` as in Ollama's ChatResponse. Without calls the text is returned unchanged."""
    names = set(tool_names) if tool_names is not None else None
    decoder = json.JSONDecoder()
    found: list[dict[str, Any]] = []
    spans: list[tuple[int, int]] = []
    pos = 0
    while pos < len(text):
        start = min((i for i in (text.find("{", pos), text.find("[", pos)) if i >= 0), default=-1)
        if start < 0:
            break
        try:
            value, end = decoder.raw_decode(text, start)
        except (ValueError, RecursionError):  # not JSON, or nested deeper than Python decodes
            pos = start + 1
            continue
        items = value if isinstance(value, list) else [value]
        calls = [c for c in (_as_call(v, names) for v in items) if c is not None]
        if calls and len(calls) == len(items):
            found.extend(calls)
            spans.append((start, end))
        pos = end
    if not found:
        return [], text
    rest = "".join(
        text[a:b]
        for a, b in zip([0] + [e for _, e in spans], [s for s, _ in spans] + [len(text)], strict=True)
    )
    rest = _WRAPPERS.sub("", rest).strip()
    calls = [{"id": _call_id(), "function": {"index": i, **c}} for i, c in enumerate(found)]
    return calls, rest
