"""Splitting a streamed reply into text to send now and a tool call to hold back. Pure.

As Ollama's tool parser: text streams as it comes; a tool call is recognised by its opening (one
of the markers :data:`MARKERS`, anywhere in the reply, or a bare JSON ``{``/``[`` when it is the
first thing the model writes). Only what may still turn out to be an opening is held: the tail of
the text that is a prefix of a marker. From an opening on,
the reply is held until it ends, then parsed by :func:`parse_tool_calls` (text that holds no call
is sent as text then).
"""

from __future__ import annotations

from collections.abc import Iterable

from registry.modelserver.prompt.tools import ToolCall, parse_tool_calls

__all__ = ["MARKERS", "ToolCallStream"]

#: The openings of a tool call that may follow text (the usual templates' tool-call tags).
MARKERS = ("<tool_call>", "[TOOL_CALLS]", "<|python_tag|>", "```")
#: Openings recognised only as the first thing the model writes (bare JSON calls).
_BARE = ("{", "[")


class ToolCallStream:
    """One reply's splitter: :meth:`feed` each chunk of text, then :meth:`finish` once."""

    def __init__(self, tool_names: Iterable[str] | None) -> None:
        self._names = list(tool_names) if tool_names is not None else None
        self._pending = ""  # text not sent yet: a possible opening, or the held call
        self._calling = False
        self._started = False  # non-whitespace text was sent: a bare ``{`` is text from now on

    def feed(self, text: str) -> str:
        """The text that can be sent now (possibly ""); the rest is held."""
        if self._calling:
            self._pending += text
            return ""
        buffer = self._pending + text
        start = self._opening(buffer)
        if start >= 0:
            self._calling = True
            self._pending = buffer[start:]
            return self._sent(buffer[:start])
        keep = self._partial_opening(buffer)
        self._pending = buffer[len(buffer) - keep :] if keep else ""
        return self._sent(buffer[: len(buffer) - keep])

    def finish(self) -> tuple[list[ToolCall], str]:
        """``(calls, text)`` for what was held when the reply ends: the parsed calls and the text
        around them, or no calls and the held text."""
        held, self._pending = self._pending, ""
        if not self._calling:
            return [], held
        return parse_tool_calls(held, self._names)

    def _sent(self, text: str) -> str:
        if text.strip():
            self._started = True
        return text

    def _opening(self, buffer: str) -> int:
        """Where a tool call opens in ``buffer``, or -1."""
        found = [i for i in (buffer.find(m) for m in MARKERS) if i >= 0]
        if not self._started:
            stripped = buffer.lstrip()
            if stripped.startswith(_BARE):
                found.append(len(buffer) - len(stripped))
        return min(found, default=-1)

    def _partial_opening(self, buffer: str) -> int:
        """The length of the longest tail of ``buffer`` that a marker may continue."""
        for size in range(min(len(buffer), max(map(len, MARKERS)) - 1), 0, -1):
            tail = buffer[-size:]
            if any(m.startswith(tail) for m in MARKERS):
                return size
        return 0
