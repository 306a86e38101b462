"""gpt-oss's harmony output format: the streaming parser that splits a reply into thinking, content
and tool calls. Pure.

As Ollama's ``harmony`` package (``HarmonyParser`` + ``HarmonyMessageHandler``), chosen for the
gpt-oss family when its template writes ``<|start|>`` and ``<|end|>``, or for a model whose config
names the ``harmony`` parser (Modelfile ``PARSER harmony``) (:func:`uses_harmony`). A
reply is a sequence of messages ``<|start|>HEADER<|message|>BODY<|end|>``; the prompt already
opened the first one (``<|start|>assistant``), so the model's first words are its header, e.g.
``<|channel|>analysis<|message|>``. The header names a channel and maybe a recipient:

- ``analysis`` -> thinking (with a recipient, a tool call);
- ``final`` and ``commentary`` -> content;
- a recipient (``to=functions.NAME``, before or after the channel) -> a tool call of ``NAME`` whose
  body is its JSON arguments (``<|constrain|>json`` in the header is ignored), sent once the message
  ends (``<|end|>``/``<|call|>``, or the end of the reply: ``<|call|>`` stops generation).

Headers, roles and markers never reach the client, and neither does text outside a message. The
parser works on any split of the reply into chunks (a marker may arrive one character at a time):
it holds back only what may still be a marker. Unlike Ollama, which accumulates every tool body of
a reply into one call sent at its end, each tool message is its own call, sent when it ends.
"""

from __future__ import annotations

import enum
import json
import re
import secrets
import string
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from registry.modelserver.prompt.tools import ToolCall

__all__ = [
    "PRESERVED_TOKENS",
    "HarmonyError",
    "HarmonyHeader",
    "HarmonyStream",
    "harmony_tool_names",
    "parse_header",
    "uses_harmony",
]

_START = "<|start|>"
_MESSAGE = "<|message|>"
_CHANNEL = "<|channel|>"
_CONSTRAIN = "<|constrain|>"
#: What ends a message: Ollama's ``<|end|>``, and the two end-of-generation markers in case the
#: runner renders them (it stops on them, so normally they never arrive).
_ENDS = ("<|end|>", "<|call|>", "<|return|>")

#: The special tokens the runner must render as text for the parser (Ollama's ``PreservedTokens``;
#: ``<|call|>`` and ``<|return|>`` end generation instead).
PRESERVED_TOKENS = ("<|start|>", "<|end|>", "<|message|>", "<|channel|>", "<|constrain|>")

_FAMILIES = ("gptoss", "gpt-oss")
_ALPHABET = string.ascii_lowercase + string.digits
#: Built-in tools whose names gpt-oss knows as they are (never renamed).
_BUILTIN_TOOLS = ("browser.open", "browser.search", "browser.find", "python")


class HarmonyError(ValueError):
    """The reply broke the format: a tool call whose arguments are not a JSON object."""


def uses_harmony(family: str, template_source: str, parser: str = "") -> bool:
    """True when a reply of the model is harmony: its config names the ``harmony`` parser, or it
    names none and (Ollama's ``shouldUseHarmony``) the family is gpt-oss and the template writes
    both ``<|start|>`` and ``<|end|>``."""
    if parser:
        return parser == "harmony"
    return family in _FAMILIES and _START in template_source and "<|end|>" in template_source


@dataclass(frozen=True)
class HarmonyHeader:
    """A message's header: its role, channel and recipient (each "" when absent)."""

    role: str = ""
    channel: str = ""
    recipient: str = ""


def parse_header(raw: str) -> HarmonyHeader:
    """The header text between ``<|start|>`` and ``<|message|>`` (Ollama's ``parseHeader``): the
    channel is the word after ``<|channel|>``; of the other whitespace-separated words the first is
    the role, unless it is ``to=R`` (then the role is ``tool`` and R the recipient), and a second
    ``to=R`` names the recipient."""
    if _CONSTRAIN in raw:
        raw = raw.replace(_CONSTRAIN, " " + _CONSTRAIN, 1).strip()
    channel = ""
    at = raw.find(_CHANNEL)
    if at >= 0:
        after = raw[at + len(_CHANNEL) :]
        word = re.match(r"\S*", after)
        channel = word.group(0) if word else ""
        raw = (raw[:at] + after[len(channel) :]).strip()
    words = raw.split()
    if not words:
        return HarmonyHeader(channel=channel)
    role, rest = words[0], words[1:]
    if role.startswith("to="):
        return HarmonyHeader(role="tool", channel=channel, recipient=role[3:])
    recipient = rest[0][3:] if rest and rest[0].startswith("to=") else ""
    return HarmonyHeader(role=role, channel=channel, recipient=recipient)


def _valid_name(name: str) -> str:
    """A user's function name as a TypeScript-like identifier (Ollama's ``convertToValidChars``)."""
    out = "".join(
        "_" if c in " -." else c for c in name if c in " -." or c.isalpha() or c.isdigit() or c in "_$"
    )
    if not out:
        return "unnamed"
    return "_" + out if out[0].isdigit() else out


def harmony_tool_names(
    tools: list[dict[str, Any]] | None,
) -> tuple[list[dict[str, Any]] | None, dict[str, str]]:
    """The request's tools with names gpt-oss can call (Ollama's ``FunctionNameMap``: invalid
    characters replaced, duplicates numbered ``_2``, ``_3``; built-in browser/python tools kept),
    and the map from those names back to the user's. The tools are copies; None stays None."""
    if not tools:
        return tools, {}
    back: dict[str, str] = {}
    renamed: list[dict[str, Any]] = []
    for tool in tools:
        function = tool.get("function") if isinstance(tool, dict) else None
        name = function.get("name") if isinstance(function, dict) else None
        if not isinstance(name, str) or not name:
            renamed.append(tool)
            continue
        assert isinstance(function, dict)
        if name in _BUILTIN_TOOLS:
            new = name
        else:
            base = new = _valid_name(name)
            count = 2
            while new in back:
                new = f"{base}_{count}"
                count += 1
        back[new] = name
        renamed.append({**tool, "function": {**function, "name": new}})
    return renamed, back


class _Parse(enum.Enum):
    LOOKING_FOR_START = enum.auto()
    HEADER = enum.auto()
    BODY = enum.auto()


class _Route(enum.Enum):
    CONTENT = enum.auto()
    THINKING = enum.auto()
    TOOL = enum.auto()


def _overlap(text: str, tags: Iterable[str]) -> int:
    """The length of the longest tail of ``text`` that is a head of one of ``tags``."""
    best = 0
    for tag in tags:
        for size in range(min(len(tag), len(text)), best, -1):
            if text.endswith(tag[:size]):
                best = size
                break
    return best


def _call_id() -> str:
    return "call_" + "".join(secrets.choice(_ALPHABET) for _ in range(8))


@dataclass
class _Out:
    thinking: list[str] = field(default_factory=list)
    content: list[str] = field(default_factory=list)
    calls: list[ToolCall] = field(default_factory=list)


class HarmonyStream:
    """One harmony reply's splitter: :meth:`feed` each chunk, then :meth:`finish` once; both return
    ``(thinking, content, calls)`` that can be sent now.

    ``prefill`` is the last message of the conversation when the prompt continues it (Ollama's
    ``AddImplicitStartOrPrefill``): an assistant message with content continues in the final
    channel, one with only thinking in the analysis channel; otherwise the reply starts in the
    header of an assistant message. ``tool_names`` maps the names the model was shown back to the
    user's (:func:`harmony_tool_names`). Calls are numbered (``function.index``) in order.

    Raises:
        HarmonyError: from :meth:`feed`/:meth:`finish`, a tool call whose arguments are not a JSON
            object (Ollama's ``error parsing tool call``).
    """

    def __init__(
        self, prefill: dict[str, Any] | None = None, tool_names: dict[str, str] | None = None
    ) -> None:
        self._names = dict(tool_names or {})
        self._state = _Parse.HEADER
        self._route = _Route.CONTENT
        self._acc = "assistant"
        self._tool = ""  # the recipient of the tool message being read
        self._tool_body: list[str] = []
        self._count = 0
        if prefill is not None and prefill.get("role") == "assistant":
            if prefill.get("content"):
                self._acc += _CHANNEL + "final" + _MESSAGE
            elif prefill.get("thinking"):
                self._acc += _CHANNEL + "analysis" + _MESSAGE

    def feed(self, text: str) -> tuple[str, str, list[ToolCall]]:
        """The parts of the reply that ``text`` completes."""
        self._acc += text
        out = _Out()
        while self._step(out):
            pass
        return "".join(out.thinking), "".join(out.content), out.calls

    def finish(self) -> tuple[str, str, list[ToolCall]]:
        """What is held when the reply ends: a partial marker in a body is sent as that body's
        text, and an unfinished tool message becomes its call."""
        out = _Out()
        if self._state is _Parse.BODY:
            self._emit(out, self._acc)
        self._acc = ""
        if self._state is _Parse.BODY and self._route is _Route.TOOL:
            self._end_tool(out)
        self._state = _Parse.LOOKING_FOR_START
        return "".join(out.thinking), "".join(out.content), out.calls

    def _step(self, out: _Out) -> bool:
        """One step of the state machine; True while it may take another."""
        acc = self._acc
        if self._state is _Parse.LOOKING_FOR_START:
            at = acc.find(_START)
            if at < 0:  # text outside a message is dropped; keep only a possible partial start
                keep = _overlap(acc, (_START,))
                self._acc = acc[len(acc) - keep :] if keep else ""
                return False
            self._acc = acc[at + len(_START) :]
            self._state = _Parse.HEADER
            return True
        if self._state is _Parse.HEADER:
            at = acc.find(_MESSAGE)
            if at < 0:
                return False
            self._begin(parse_header(acc[:at]))
            self._acc = acc[at + len(_MESSAGE) :]
            self._state = _Parse.BODY
            return True
        ends = [(i, tag) for tag in _ENDS if (i := acc.find(tag)) >= 0]
        if ends:
            at, tag = min(ends)
            self._emit(out, acc[:at])
            self._acc = acc[at + len(tag) :]
            if self._route is _Route.TOOL:
                self._end_tool(out)
            self._route = _Route.CONTENT
            self._state = _Parse.LOOKING_FOR_START
            return True
        keep = _overlap(acc, _ENDS)
        self._emit(out, acc[: len(acc) - keep])
        self._acc = acc[len(acc) - keep :] if keep else ""
        return False

    def _begin(self, header: HarmonyHeader) -> None:
        """Route the body of a message by its header (Ollama's ``HarmonyMessageHandler``: another
        channel keeps the route, which is content after a message ends)."""
        if header.channel in ("analysis", "commentary") and header.recipient:
            self._route = _Route.TOOL
            self._tool = header.recipient
            self._tool_body = []
        elif header.channel == "analysis":
            self._route = _Route.THINKING
        elif header.channel in ("commentary", "final"):
            self._route = _Route.CONTENT

    def _emit(self, out: _Out, text: str) -> None:
        if not text:
            return
        if self._route is _Route.THINKING:
            out.thinking.append(text)
        elif self._route is _Route.TOOL:
            self._tool_body.append(text)
        else:
            out.content.append(text)

    def _end_tool(self, out: _Out) -> None:
        raw = "".join(self._tool_body)
        self._tool_body = []
        name = self._tool.removeprefix("functions.")
        name = self._names.get(name, name)
        try:
            arguments = json.loads(raw)
        except ValueError as err:
            raise HarmonyError(f"error parsing tool call: raw='{raw}', err={err}") from err
        if not isinstance(arguments, dict):
            raise HarmonyError(f"error parsing tool call: raw='{raw}', err=arguments are not a JSON object")
        out.calls.append(
            {"id": _call_id(), "function": {"index": self._count, "name": name, "arguments": arguments}}
        )
        self._count += 1
