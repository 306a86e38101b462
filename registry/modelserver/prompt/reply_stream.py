"""One streamed reply split three ways: thinking, content and tool calls. Pure.

The text first goes through the thinking parser (when the request thinks), and what it gives as
content through the tool-call splitter (when the request has tools), as Ollama's chat handler
chains its ``thinking.Parser`` and ``tools.Parser``; or, for a harmony model (gpt-oss), through the
harmony parser alone, which finds all three (Ollama's built-in ``harmony`` parser).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from registry.modelserver.prompt.harmony import PRESERVED_TOKENS, HarmonyStream
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
    """One reply's splitter: :meth:`feed` each chunk, then :meth:`finish` once. With no parser
    every chunk is content, unchanged. ``harmony`` replaces the other two.

    Raises:
        HarmonyError: from :meth:`feed`/:meth:`finish` with ``harmony``, a tool call whose
            arguments are not a JSON object.
    """

    def __init__(
        self,
        thinking: ThinkingParser | None = None,
        tools: ToolCallStream | None = None,
        *,
        harmony: HarmonyStream | None = None,
    ) -> None:
        self.thinking = thinking
        self.tools = tools
        self.harmony = harmony

    @property
    def plain(self) -> bool:
        """True when every chunk is content as it comes (no parser holds anything back)."""
        return self.thinking is None and self.tools is None and self.harmony is None

    @property
    def preserved_tokens(self) -> tuple[str, ...]:
        """The special tokens the runner must render as text for this splitter to see them."""
        return PRESERVED_TOKENS if self.harmony is not None else ()

    def feed(self, text: str) -> ReplyPiece:
        """The parts of the reply that ``text`` completes."""
        if self.harmony is not None:
            thinking, content, calls = self.harmony.feed(text)
            return ReplyPiece(thinking, content, calls)
        thinking, content = self.thinking.add(text) if self.thinking is not None else ("", text)
        return self._content(ReplyPiece(thinking=thinking), content)

    def finish(self) -> ReplyPiece:
        """What was held back when the reply ends."""
        if self.harmony is not None:
            thinking, content, calls = self.harmony.finish()
            return ReplyPiece(thinking, content, calls)
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
