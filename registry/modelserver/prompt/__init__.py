"""Chat templates: the GGUF's Jinja template and Modelfile TEMPLATE (Go template syntax), plus
the parsers of a streamed reply: thinking (:class:`ThinkingParser`) and tool calls
(:class:`ToolCallStream`), or both at once for gpt-oss's harmony format (:class:`HarmonyStream`)."""

from registry.modelserver.prompt.chat import (
    DEFAULT_TEMPLATE,
    PromptTemplate,
    TemplateError,
    Think,
    think_values,
    tool_names,
)
from registry.modelserver.prompt.harmony import HarmonyError, HarmonyStream, harmony_tool_names, uses_harmony
from registry.modelserver.prompt.reply_stream import ReplyPiece, ReplyStream
from registry.modelserver.prompt.thinking import ThinkingParser, drop_earlier_thinking, thinking_tags
from registry.modelserver.prompt.tool_stream import ToolCallStream, tool_call_tag
from registry.modelserver.prompt.tools import parse_tool_calls

__all__ = [
    "DEFAULT_TEMPLATE",
    "HarmonyError",
    "HarmonyStream",
    "PromptTemplate",
    "ReplyPiece",
    "ReplyStream",
    "TemplateError",
    "Think",
    "ThinkingParser",
    "ToolCallStream",
    "drop_earlier_thinking",
    "harmony_tool_names",
    "parse_tool_calls",
    "think_values",
    "thinking_tags",
    "tool_call_tag",
    "tool_names",
    "uses_harmony",
]
