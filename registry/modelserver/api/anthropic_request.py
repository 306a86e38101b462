"""Anthropic Messages API requests (``POST /v1/messages``) as Ollama chat requests, as Ollama's
``anthropic.FromMessagesRequest`` converts them. Pure: no I/O.

- ``system``: a string or text blocks (joined without a separator) becomes the first message.
- ``messages``: ``content`` is a string or blocks: ``text`` (joined), ``image`` (base64 sources
  only), ``tool_use`` (an assistant tool call; ``id`` and ``name`` required), ``tool_result``
  (a ``tool`` message answering ``tool_use_id``; in a user turn the results come before the turn's
  text), ``thinking``; other block types are skipped.
- ``max_tokens`` (required, positive) is ``num_predict``; ``temperature``, ``top_p``, ``top_k`` and
  ``stop_sequences`` are the options of the same meaning.
- ``tools`` (``name``, ``description``, ``input_schema``) become function tools, whatever their
  ``type`` (``custom``, or an Anthropic-defined client tool such as ``bash_20250124``), except the
  server tools ``web_search_*``, which Ollama runs on ollama.com: a 400 here. ``tool_choice``:
  ``auto`` (the default), ``none`` (the tools are not offered), ``any`` and ``tool`` (the reply is
  constrained to one call, see :mod:`registry.modelserver.api.tool_choice`; Ollama ignores it).
- ``thinking`` ``{"type": "enabled"|"disabled"}`` is ``think`` true/false (relaxed to unset on a
  model that cannot think, as Ollama does for this API).

Mistakes are ``InvalidInput`` with Ollama's messages where Ollama has one.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

from registry import errors
from registry.modelserver.api.json_body import body_field
from registry.modelserver.api.tool_choice import forced_call_format
from registry.modelserver.api.tool_results import name_tool_results
from registry.oci.name import ModelName

__all__ = ["MessagesRequest", "estimate_input_tokens", "messages_request", "system_text"]


@dataclass(frozen=True)
class MessagesRequest:
    """A checked Messages request: the model as named and parsed, the Ollama chat ``body``
    (``options``, ``tools``, ``format``, ``think``) and ``messages``, and ``stream``."""

    model: str
    name: ModelName
    body: dict[str, Any]
    messages: list[dict[str, Any]]
    stream: bool
    #: ``thinking`` was given: unset it rather than refuse when the model cannot think.
    relax_thinking: bool


def _model(body: dict[str, Any]) -> tuple[str, ModelName]:
    model = body.get("model")
    if model is not None and not isinstance(model, str):
        raise errors.InvalidInput("invalid model: expected a string")
    if not model:
        raise errors.InvalidInput("model is required")
    return model, ModelName.parse(model)


def system_text(system: Any) -> str:
    """``system`` as text: a string, or the ``text`` of its text blocks joined (Ollama)."""
    if system is None or isinstance(system, str):
        return system or ""
    if not isinstance(system, list):
        raise errors.InvalidInput("invalid system: expected a string or an array of text blocks")
    parts = []
    for block in system:
        if not isinstance(block, dict):
            raise errors.InvalidInput("invalid system: each block must be an object")
        if block.get("type") == "text":
            text = block.get("text")
            if not isinstance(text, str):
                raise errors.InvalidInput("invalid system: a text block needs a string text")
            parts.append(text)
    return "".join(parts)


def _image(source: Any) -> str:
    """A base64 image source's data, checked (Ollama's ``resolveImageSource``)."""
    if not isinstance(source, dict):
        raise errors.InvalidInput("invalid image source")
    if source.get("type") != "base64":
        raise errors.InvalidInput(
            f"invalid image source type: {source.get('type')}. Only base64 images are supported."
        )
    data = source.get("data")
    if not isinstance(data, str):
        raise errors.InvalidInput("invalid base64 image data: data must be a string")
    try:
        base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError) as err:
        raise errors.InvalidInput(f"invalid base64 image data: {err}") from None
    return data


def _tool_result(block: dict[str, Any]) -> dict[str, Any]:
    tool_use_id = block.get("tool_use_id")
    if not isinstance(tool_use_id, str) or not tool_use_id:
        raise errors.InvalidInput("tool_result block missing required 'tool_use_id' field")
    content = block.get("content")
    text, images = "", []
    if isinstance(content, str):
        text = content
    elif isinstance(content, list):
        parts = []
        for part in content:
            if not isinstance(part, dict):
                continue
            if part.get("type") == "text" and isinstance(part.get("text"), str):
                parts.append(part["text"])
            elif part.get("type") == "image":
                images.append(_image(part.get("source")))
        text = "".join(parts)
    elif content is not None:
        raise errors.InvalidInput("invalid tool_result content: expected a string or an array of blocks")
    message: dict[str, Any] = {"role": "tool", "content": text, "tool_call_id": tool_use_id}
    if images:
        message["images"] = images
    return message


def _blocks(content: Any) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    if not isinstance(content, list) or not all(isinstance(b, dict) for b in content):
        raise errors.InvalidInput("invalid message content: expected a string or an array of content blocks")
    return content


def _convert_message(message: Any) -> list[dict[str, Any]]:
    """One Anthropic message as Ollama messages (Ollama's ``convertMessage``)."""
    if not isinstance(message, dict):
        raise errors.InvalidInput("invalid message: expected an object")
    role = message.get("role")
    if not isinstance(role, str) or not role:
        raise errors.InvalidInput("invalid message: role must be a non-empty string")
    role = role.lower()
    text: list[str] = []
    images: list[str] = []
    calls: list[dict[str, Any]] = []
    thinking = ""
    results: list[dict[str, Any]] = []
    for block in _blocks(message.get("content")):
        kind = block.get("type")
        if kind == "text":
            value = block.get("text", "")
            if not isinstance(value, str):
                raise errors.InvalidInput("invalid text block: text must be a string")
            text.append(value)
        elif kind == "image":
            images.append(_image(block.get("source")))
        elif kind == "tool_use":
            if not isinstance(block.get("id"), str) or not block["id"]:
                raise errors.InvalidInput("tool_use block missing required 'id' field")
            if not isinstance(block.get("name"), str) or not block["name"]:
                raise errors.InvalidInput("tool_use block missing required 'name' field")
            args = block.get("input")
            if args is None:
                args = {}
            if not isinstance(args, dict):
                raise errors.InvalidInput("invalid tool_use block: input must be an object")
            calls.append({"id": block["id"], "function": {"name": block["name"], "arguments": args}})
        elif kind == "tool_result":
            results.append(_tool_result(block))
        elif kind == "thinking" and isinstance(block.get("thinking"), str):
            thinking = block["thinking"]
    out: list[dict[str, Any]] = []
    if role == "user":
        out.extend(results)
    if text or images or calls or thinking:
        converted: dict[str, Any] = {"role": role, "content": "".join(text)}
        if images:
            converted["images"] = images
        if calls:
            converted["tool_calls"] = calls
        if thinking:
            converted["thinking"] = thinking
        out.append(converted)
    if role != "user":
        out.extend(results)
    return out


def _tools(raw: Any) -> list[dict[str, Any]]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise errors.InvalidInput("invalid tools: expected an array")
    tools = []
    for tool in raw:
        if not isinstance(tool, dict):
            raise errors.InvalidInput("invalid tool: expected an object")
        kind = tool.get("type")
        if isinstance(kind, str) and kind.startswith("web_search"):
            raise errors.InvalidInput(
                f"tool type {kind!r} is not supported by this server (web search runs on ollama.com)"
            )
        name = tool.get("name")
        if not isinstance(name, str) or not name:
            raise errors.InvalidInput("invalid tool: name is required")
        description = tool.get("description") or ""
        if not isinstance(description, str):
            raise errors.InvalidInput(f"invalid description for tool {name!r}: expected a string")
        schema = tool.get("input_schema")
        if schema is not None and not isinstance(schema, dict):
            raise errors.InvalidInput(f"invalid input_schema for tool {name!r}: expected an object")
        function: dict[str, Any] = {"name": name, "description": description}
        if schema is not None:
            function["parameters"] = schema
        tools.append({"type": "function", "function": function})
    return tools


def _tool_format(choice: Any, tools: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], Any]:
    """The tools to offer and the ``format`` that ``tool_choice`` asks for."""
    if choice is None:
        return tools, None
    if not isinstance(choice, dict) or choice.get("type") not in ("auto", "any", "tool", "none"):
        raise errors.InvalidInput('invalid tool_choice: expected {"type": "auto"|"any"|"tool"|"none"}')
    kind = choice["type"]
    if kind == "none":
        return [], None
    if kind == "auto":
        return tools, None
    if not tools:
        raise errors.InvalidInput(f"tool_choice {kind!r} needs tools")
    if kind == "any":
        return tools, forced_call_format(tools)
    name = choice.get("name")
    if not any(t["function"]["name"] == name for t in tools):
        raise errors.InvalidInput(f"tool_choice names tool {name!r}, which is not in tools")
    return tools, forced_call_format(tools, name)


def _options(body: dict[str, Any], max_tokens: int) -> dict[str, Any]:
    options: dict[str, Any] = {"num_predict": max_tokens}
    for key in ("temperature", "top_p", "top_k"):
        if body.get(key) is not None:
            options[key] = body[key]
    stops = body_field(body, "stop_sequences", list)
    if stops:
        if not all(isinstance(s, str) for s in stops):
            raise errors.InvalidInput("invalid stop_sequences: expected an array of strings")
        options["stop"] = stops
    return options


def _think(thinking: Any) -> bool | None:
    if thinking is None:
        return None
    if not isinstance(thinking, dict):
        raise errors.InvalidInput('invalid thinking: expected {"type": "enabled"|"disabled"}')
    kind = thinking.get("type")
    return True if kind == "enabled" else False if kind == "disabled" else None


def messages_request(body: dict[str, Any]) -> MessagesRequest:
    """Check and convert a Messages request body.

    Raises:
        InvalidInput: ``model is required``, ``max_tokens is required and must be positive``,
            ``messages is required``, or what is wrong with a field, message, block or tool.
    """
    model, name = _model(body)
    max_tokens = body.get("max_tokens")
    if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens <= 0:
        raise errors.InvalidInput("max_tokens is required and must be positive")
    raw_messages = body.get("messages")
    if raw_messages is not None and not isinstance(raw_messages, list):
        raise errors.InvalidInput("invalid messages: expected an array")
    if not raw_messages:
        raise errors.InvalidInput("messages is required")
    messages: list[dict[str, Any]] = []
    system = system_text(body.get("system"))
    if system:
        messages.append({"role": "system", "content": system})
    for message in raw_messages:
        messages.extend(_convert_message(message))
    name_tool_results(messages)
    tools, fmt = _tool_format(body.get("tool_choice"), _tools(body.get("tools")))
    stream = body_field(body, "stream", bool)
    think = _think(body.get("thinking"))
    internal: dict[str, Any] = {"options": _options(body, max_tokens), "tools": tools or None, "format": fmt}
    if think is not None:
        internal["think"] = think
    return MessagesRequest(model, name, internal, messages, bool(stream), relax_thinking=think is not None)


def _chars(value: Any) -> int:
    if value is None:
        return 0
    return len(value) if isinstance(value, str) else len(json.dumps(value))


def estimate_input_tokens(body: dict[str, Any]) -> int:
    """Ollama's rough input estimate (characters / 4, at least 1 with any content): the
    ``message_start`` usage of a stream, before the prompt is evaluated."""
    messages = [m for m in body.get("messages") or [] if isinstance(m, dict)]
    tools: list[Any] = body["tools"] if isinstance(body.get("tools"), list) else []
    total = _chars(body.get("system"))
    total += sum(_chars(m.get("role")) + _chars(m.get("content")) for m in messages)
    total += sum(_chars(t) for t in tools)
    tokens = total // 4
    return max(tokens, 1) if messages or body.get("system") else tokens
