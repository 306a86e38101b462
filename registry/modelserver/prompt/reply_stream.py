"""One streamed reply split three ways: thinking, content and tool calls. Pure.

The text first goes through the thinking parser (when the request thinks), and what it gives as
content through the tool-call splitter (when the request has tools), as Ollama's chat handler
chains its ``thinking.Parser`` and ``tools.Parser``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from registry.modelserver.prompt.thinking import ThinkingParser
from registry.modelserver.prompt.tool_stream import ToolCallStream
from registry.modelserver.prompt.tools import ToolCall

__all__ = ["ReplyPiece", "ReplyStream"]


@dataclass
class ReplyPiece:
    """What can be sent for one chunk of a reply (each part may be empty)."""

    thinking: str = ""
    content: str = ""
    calls: list[ToolCall] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.thinking or self.content or self.calls)


class ReplyStream:
    """One reply's splitter: :meth:`feed` each chunk, then :meth:`finish` once. With neither parser
    every chunk is content, unchanged."""

    def __init__(self, thinking: ThinkingParser | None = None, tools: ToolCallStream | None = None) -> None:
        self.thinking = thinking
        self.tools = tools

    def feed(self, text: str) -> ReplyPiece:
        """The parts of the reply that ``text`` completes."""
        thinking, content = self.thinking.add(text) if self.thinking is not None else ("", text)
        return self._content(ReplyPiece(thinking=thinking), content)

    def finish(self) -> ReplyPiece:
        """What was held back when the reply ends."""
        piece = ReplyPiece()
        content = ""
        if self.thinking is not None:
            piece.thinking, content = self.thinking.flush()
        piece = self._content(piece, content)
        if self.tools is not None:
            calls, text = self.tools.finish()
            piece.calls += calls
            piece.content += text
        return piece

    def _content(self, piece: ReplyPiece, content: str) -> ReplyPiece:
        if self.tools is None or not content:
            piece.content = content
            return piece
        piece.content, piece.calls = self.tools.feed(content)
        return piece
