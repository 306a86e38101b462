"""A forced tool call as a JSON-schema ``format``: what ``tool_choice`` ``any``/``tool`` (Anthropic)
and ``required``/``{"type": "function", "name"}`` (OpenAI Responses) mean for a local model.

Ollama ignores ``tool_choice``; here the choice is kept by constraining the reply (llama.cpp's
grammar from the schema) to one ``{"name": <a chosen tool>, "arguments": <its parameters>}``
object, which the chat stream's tool-call parser then returns as a tool call. Pure.
"""

from __future__ import annotations

from typing import Any

__all__ = ["forced_call_format"]


def forced_call_format(tools: list[dict[str, Any]], only: str | None = None) -> dict[str, Any]:
    """The schema of one call of ``only`` (or of any of ``tools`` when None). ``tools`` are Ollama
    tools (``{"type": "function", "function": {"name", "parameters"}}``); a tool without an object
    schema takes any object as arguments."""
    choices = []
    for tool in tools:
        function = tool.get("function") or {}
        name = function.get("name")
        if not isinstance(name, str) or (only is not None and name != only):
            continue
        params = function.get("parameters")
        if not isinstance(params, dict) or not params:
            params = {"type": "object"}
        choices.append(
            {
                "type": "object",
                "properties": {"name": {"enum": [name]}, "arguments": params},
                "required": ["name", "arguments"],
            }
        )
    if len(choices) == 1:
        return choices[0]
    return {"anyOf": choices}
