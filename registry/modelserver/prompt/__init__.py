"""Chat templates: the GGUF's Jinja template and Modelfile TEMPLATE (Go template syntax), plus
the parsers of a streamed reply: thinking (:class:`ThinkingParser`) and tool calls
(:class:`ToolCallStream`)."""

from registry.modelserver.prompt.chat import (
    DEFAULT_TEMPLATE,
    PromptTemplate,
    TemplateError,
    Think,
    think_values,
    tool_names,
)
from registry.modelserver.prompt.reply_stream import ReplyPiece, ReplyStream
from registry.modelserver.prompt.thinking import ThinkingParser, drop_earlier_thinking, thinking_tags
from registry.modelserver.prompt.tool_stream import ToolCallStream, tool_call_tag
from registry.modelserver.prompt.tools import parse_tool_calls

__all__ = [
    "DEFAULT_TEMPLATE",
    "PromptTemplate",
    "ReplyPiece",
    "ReplyStream",
    "TemplateError",
    "Think",
    "ThinkingParser",
    "ToolCallStream",
    "drop_earlier_thinking",
    "parse_tool_calls",
    "think_values",
    "thinking_tags",
    "tool_call_tag",
    "tool_names",
]
