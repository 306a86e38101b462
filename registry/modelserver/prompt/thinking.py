"""Thinking: the tags a template puts around a model's reasoning, and the streaming parser that
splits a reply into thinking and content at those tags. Pure.

As Ollama's ``thinking`` package: :func:`thinking_tags` is ``InferTags`` (the first and last text
of the innermost block that prints ``.Thinking`` inside a ``range`` over ``.Messages``, trimmed),
and :class:`ThinkingParser` is its ``Parser``: it works on any split of the text into chunks (a tag
may arrive one character at a time), holds back only what may still be a tag, and eats the
whitespace after each tag.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from typing import Any

from registry.modelserver.prompt.gotemplate.syntax import Node, Operand, Pipe

__all__ = ["ThinkingParser", "drop_earlier_thinking", "thinking_tags"]


def _pipe_fields(pipe: Pipe | None) -> Iterator[tuple[str, ...]]:
    """The field chains a pipeline names (``.A.B`` is ``("A", "B")``), nested pipelines too."""
    if pipe is None:
        return
    for cmd in pipe.cmds:
        for operand in cmd:
            if not isinstance(operand, Operand):
                continue
            if operand.kind == "field":
                yield operand.chain
            elif operand.kind == "pipe":
                yield from _pipe_fields(operand.value)


def _names_thinking(pipe: Pipe | None) -> bool:
    return any(chain[:1] == ("Thinking",) for chain in _pipe_fields(pipe))


def thinking_tags(nodes: list[Node]) -> tuple[str, str]:
    """``(opening, closing)`` thinking tags of a parsed Go template, ``("", "")`` when it has none
    (Ollama's ``thinking.InferTags``): for each ``.Thinking`` inside a ``range`` whose pipeline
    names ``.Messages``, the block holding it sets the opening tag when it starts with text and the
    closing tag when it ends with text (the last such block wins for each)."""
    tags = ["", ""]

    def visit(block: list[Node], in_messages: bool | None) -> None:
        for node in block:
            in_range = in_messages
            if node.kind == "range":
                in_range = any(chain[:1] == ("Messages",) for chain in _pipe_fields(node.pipe))
            if in_range and _names_thinking(node.pipe):
                if block[0].kind == "text":
                    tags[0] = block[0].text.strip()
                if block[-1].kind == "text":
                    tags[1] = block[-1].text.strip()
            visit(node.body, in_range)
            visit(node.orelse, in_range)

    visit(nodes, None)
    return tags[0], tags[1]


class _State(enum.Enum):
    LOOKING_FOR_OPENING = enum.auto()  # only whitespace seen so far
    STARTED_EATING_WHITESPACE = enum.auto()  # after the opening tag, before any thinking
    THINKING = enum.auto()
    DONE_EATING_WHITESPACE = enum.auto()  # after the closing tag, before any content
    DONE = enum.auto()


def _overlap(text: str, tag: str) -> int:
    """The length of the longest tail of ``text`` that is a head of ``tag``."""
    for size in range(min(len(tag), len(text)), 0, -1):
        if text.endswith(tag[:size]):
            return size
    return 0


class ThinkingParser:
    """One reply's splitter (Ollama's ``thinking.Parser``): :meth:`add` each chunk as it comes.

    The reply thinks when its first non-whitespace text is ``opening``; the thinking ends at
    ``closing``. Text that does not start with the opening tag is all content. A reply that ends
    while text is held (a partial tag) loses it, as in Ollama; :meth:`flush` returns it instead.
    """

    def __init__(self, opening: str, closing: str) -> None:
        if not opening or not closing:
            raise ValueError("thinking tags must be non-empty")
        self.opening = opening
        self.closing = closing
        self._state = _State.LOOKING_FOR_OPENING
        self._acc = ""

    @property
    def thinking_done(self) -> bool:
        """True once the reply is past its thinking (or never had any)."""
        return self._state in (_State.DONE_EATING_WHITESPACE, _State.DONE)

    def add(self, text: str) -> tuple[str, str]:
        """``(thinking, content)`` that can be sent now for one more chunk (either may be "")."""
        self._acc += text
        thinking: list[str] = []
        content: list[str] = []
        more = True
        while more:
            t, c, more = self._eat()
            thinking.append(t)
            content.append(c)
        return "".join(thinking), "".join(content)

    def flush(self) -> tuple[str, str]:
        """``(thinking, content)`` still held when the reply ends (a partial tag, or whitespace)."""
        held, self._acc = self._acc, ""
        if self._state is _State.THINKING:
            return held, ""
        if self._state in (_State.DONE, _State.LOOKING_FOR_OPENING) and held.strip():
            return "", held
        return "", ""

    def _eat(self) -> tuple[str, str, bool]:
        """One step of the state machine: ``(thinking, content, continue)``."""
        acc = self._acc
        if self._state is _State.LOOKING_FOR_OPENING:
            trimmed = acc.lstrip()
            if trimmed.startswith(self.opening):
                after = trimmed[len(self.opening) :].lstrip()
                self._acc = after
                self._state = _State.THINKING if after else _State.STARTED_EATING_WHITESPACE
                return "", "", True
            if self.opening.startswith(trimmed):  # a partial opening tag, or only whitespace
                return "", "", False
            self._state = _State.DONE  # no thinking: the original text, whitespace and all
            self._acc = ""
            return "", acc, False
        if self._state is _State.STARTED_EATING_WHITESPACE:
            trimmed = acc.lstrip()
            self._acc = trimmed
            if not trimmed:
                return "", "", False
            self._state = _State.THINKING
            return "", "", True
        if self._state is _State.THINKING:
            end = acc.find(self.closing)
            if end >= 0:
                thinking, rest = acc[:end], acc[end + len(self.closing) :].lstrip()
                self._acc = ""
                self._state = _State.DONE if rest else _State.DONE_EATING_WHITESPACE
                return thinking, rest, False
            keep = _overlap(acc, self.closing)
            self._acc = acc[len(acc) - keep :] if keep else ""
            return acc[: len(acc) - keep], "", False
        if self._state is _State.DONE_EATING_WHITESPACE:
            trimmed = acc.lstrip()
            self._acc = ""
            if trimmed:
                self._state = _State.DONE
            return "", trimmed, False
        self._acc = ""
        return "", acc, False


def drop_earlier_thinking(messages: list[dict[str, Any]], *, family: str, model: str) -> list[dict[str, Any]]:
    """Ollama's ``filterThinkTags``: for the qwen3 family and models named ``deepseek-r1``, the
    ``<think>...</think>`` block that opens an assistant message's content is dropped from every
    assistant message before the last user message (those models were trained without them).
    Other models' messages are returned unchanged."""
    if family != "qwen3" and model != "deepseek-r1":
        return messages
    last_user = max((i for i, m in enumerate(messages) if m.get("role") == "user"), default=-1)
    out = []
    for i, message in enumerate(messages):
        if message.get("role") == "assistant" and i < last_user:
            parser = ThinkingParser("<think>", "</think>")
            _, content = parser.add(str(message.get("content") or ""))
            message = {**message, "content": content + parser.flush()[1]}
        out.append(message)
    return out
