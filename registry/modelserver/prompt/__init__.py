"""Chat templates: the GGUF's Jinja template and Modelfile TEMPLATE (Go template syntax), plus
tool-call parsing of model output."""

from registry.modelserver.prompt.chat import DEFAULT_TEMPLATE, PromptTemplate, TemplateError, tool_names
from registry.modelserver.prompt.tool_stream import ToolCallStream
from registry.modelserver.prompt.tools import parse_tool_calls

__all__ = [
    "DEFAULT_TEMPLATE",
    "PromptTemplate",
    "TemplateError",
    "ToolCallStream",
    "parse_tool_calls",
    "tool_names",
]
