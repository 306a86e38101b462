"""Tool results named after the calls they answer. Pure."""

from __future__ import annotations

from typing import Any

__all__ = ["name_tool_results"]


def name_tool_results(messages: list[dict[str, Any]]) -> None:
    """Give each ``tool`` message with a ``tool_call_id`` the name of the earlier call with that id
    (``tool_name``: templates print ``.ToolName``; as Ollama's ``nameFromToolCallID``), in place."""
    names: dict[str, str] = {}
    for message in messages:
        for call in message.get("tool_calls") or []:
            names[call["id"]] = call["function"]["name"]
        if message["role"] == "tool" and message.get("tool_call_id") in names:
            message["tool_name"] = names[message["tool_call_id"]]
