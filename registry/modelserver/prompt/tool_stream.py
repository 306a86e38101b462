"""Splitting a streamed reply into text to send now and tool calls, each sent when complete. Pure.

As Ollama's tool parser (``tools/``): text streams as it comes; a tool call is recognised by its
opening: the template's tool-call tag (:func:`tool_call_tag`, Ollama's ``parseTag``) or one of the
usual markers :data:`MARKERS`, anywhere in the reply, or a bare JSON ``{``/``[`` when it is the first
thing the model writes. Only what may still turn out to be an opening is held: the tail of the text
that is a prefix of one. From an opening on, nothing more is sent as text: each complete JSON value
that is a call of a known tool is sent as a call at once; what is left when the reply ends is sent
as text only if no call was found (then it was not a call after all).
"""

from __future__ import annotations

from collections.abc import Iterable

from registry.modelserver.prompt.gotemplate.syntax import Node, Operand
from registry.modelserver.prompt.tools import ToolCall, parse_tool_calls

__all__ = ["MARKERS", "ToolCallStream", "tool_call_tag"]

#: The openings of a tool call that may follow text (the usual templates' tool-call tags).
MARKERS = ("<tool_call>", "[TOOL_CALLS]", "<|python_tag|>", "```")
#: Openings recognised only as the first thing the model writes (bare JSON calls).
_BARE = ("{", "[")


def _names_tool_calls(node: Node) -> bool:
    return any(
        isinstance(op, Operand) and op.kind == "field" and "ToolCalls" in op.chain
        for cmd in (node.pipe.cmds if node.pipe else [])
        for op in cmd
    )


def _tool_calls_block(nodes: list[Node]) -> Node | None:
    """The first ``if`` whose pipeline names ``.ToolCalls`` (Ollama's ``findToolCallNode``)."""
    for node in nodes:
        if node.kind == "if" and _names_tool_calls(node):
            return node
        if node.kind in ("if", "range", "with"):
            found = _tool_calls_block(node.body) or _tool_calls_block(node.orelse)
            if found is not None:
                return found
    return None


def _first_text(nodes: list[Node]) -> str | None:
    """The first non-blank text before any action (Ollama's ``findTextNode``)."""
    for node in nodes:
        if node.kind == "text":
            if node.text.strip():
                return node.text
            continue
        if node.kind == "action":
            return None
        found = _first_text(node.body)
        if found is None:
            found = _first_text(node.orelse)
        if found is not None or node.kind in ("if", "range", "with"):
            return found
    return None


def tool_call_tag(nodes: list[Node]) -> str:
    """The text a parsed Go template writes before an assistant's tool calls (up to any ``{``,
    trimmed), or ``"{"`` when it writes none (Ollama's ``parseTag``: then a reply whose first
    non-blank character is ``{`` may be a call)."""
    block = _tool_calls_block(nodes)
    text = _first_text(block.body) if block is not None else None
    if text is None:
        return "{"
    tag = text.replace("\r\n", "\n").split("{", 1)[0].strip()
    return tag or "{"


def _json_end(text: str, start: int) -> int | None:
    """The end of the JSON object or array that opens at ``text[start]``, None while unclosed."""
    depth = 0
    in_string = escaped = False
    for i in range(start, len(text)):
        c = text[i]
        if in_string:
            if escaped:
                escaped = False
            elif c == "\\":
                escaped = True
            elif c == '"':
                in_string = False
        elif c == '"':
            in_string = True
        elif c in "{[":
            depth += 1
        elif c in "}]":
            depth -= 1
            if depth == 0:
                return i + 1
    return None


class ToolCallStream:
    """One reply's splitter: :meth:`feed` each chunk of text, then :meth:`finish` once.

    ``tag`` is the template's tool-call tag (:func:`tool_call_tag`); ``"{"`` or None adds none to
    :data:`MARKERS`. Calls are numbered (``function.index``) in the order they complete.
    """

    def __init__(self, tool_names: Iterable[str] | None, tag: str | None = None) -> None:
        self._names = list(tool_names) if tool_names is not None else None
        extra = (tag,) if tag and tag not in _BARE and tag not in MARKERS else ()
        self._markers = (*extra, *MARKERS)
        self._longest = max(map(len, self._markers))
        self._pending = ""  # text not sent yet: a possible opening, or the call's text
        self._opening = ""  # the marker that opened the call
        self._calling = False
        self._started = False  # non-whitespace text was sent: a bare ``{`` is text from now on
        self._count = 0  # calls sent
        self._stuck = False  # a complete JSON value that is no call: wait for the end

    def feed(self, text: str) -> tuple[str, list[ToolCall]]:
        """``(text, calls)`` that can be sent now (possibly ``("", [])``); the rest is held."""
        if self._calling:
            self._pending += text
            return "", self._complete_calls()
        buffer = self._pending + text
        start, marker = self._find_opening(buffer)
        if start >= 0:
            self._calling = True
            self._opening = marker
            self._pending = buffer[start + len(marker) :]
            return self._sent(buffer[:start]), self._complete_calls()
        keep = self._partial_opening(buffer)
        self._pending = buffer[len(buffer) - keep :] if keep else ""
        return self._sent(buffer[: len(buffer) - keep]), []

    def finish(self) -> tuple[list[ToolCall], str]:
        """``(calls, text)`` for what was held when the reply ends: calls not sent yet and the text
        around them, or (when the reply held no call at all) no calls and the held text."""
        held, self._pending = self._pending, ""
        if not self._calling:
            return [], held
        earlier = self._count
        calls, rest = parse_tool_calls(held, self._names)
        if calls:
            return self._numbered(calls), "" if earlier else rest
        if earlier:
            return [], ""  # what follows the calls (closing tags)
        return [], self._opening + held

    def _complete_calls(self) -> list[ToolCall]:
        """The calls whose JSON is complete in the held text, taken out of it."""
        calls: list[ToolCall] = []
        while not self._stuck:
            starts = [i for i in (self._pending.find("{"), self._pending.find("[")) if i >= 0]
            if not starts:
                break
            start = min(starts)
            end = _json_end(self._pending, start)
            if end is None:
                break
            found, _ = parse_tool_calls(self._pending[start:end], self._names)
            if not found:
                self._stuck = True
                break
            calls += self._numbered(found)
            self._pending = self._pending[end:]
        return calls

    def _numbered(self, calls: list[ToolCall]) -> list[ToolCall]:
        for call in calls:
            call["function"]["index"] = self._count
            self._count += 1
        return calls

    def _sent(self, text: str) -> str:
        if text.strip():
            self._started = True
        return text

    def _find_opening(self, buffer: str) -> tuple[int, str]:
        """Where a tool call opens in ``buffer`` and its marker (``""`` for bare JSON), or -1."""
        found = [(i, m) for m in self._markers if (i := buffer.find(m)) >= 0]
        if not self._started:
            stripped = buffer.lstrip()
            if stripped.startswith(_BARE):
                found.append((len(buffer) - len(stripped), ""))
        return min(found, default=(-1, ""), key=lambda f: f[0])

    def _partial_opening(self, buffer: str) -> int:
        """The length of the longest tail of ``buffer`` that a marker may continue."""
        for size in range(min(len(buffer), self._longest - 1), 0, -1):
            tail = buffer[-size:]
            if any(m.startswith(tail) for m in self._markers):
                return size
        return 0
