"""OpenAI Responses API requests (``POST /v1/responses``) as Ollama chat requests, as Ollama's
``openai.FromResponsesRequest`` converts them. Pure: no I/O.

- ``instructions`` becomes a first system message; ``input`` is a string (one user message) or
  items: messages (``type: message``, or just ``role`` and ``content``; content a string or
  ``input_text``/``output_text``/``input_image`` parts), ``function_call`` (an assistant tool call,
  merged into the assistant message before it), ``function_call_output`` (a ``tool`` message) and
  ``reasoning`` (its ``encrypted_content`` is the next assistant message's thinking).
- ``temperature`` (default 1.0), ``top_p``, ``max_output_tokens`` (``num_predict``); ``text.format``
  of type ``json_schema`` is the ``format``; ``reasoning.effort`` is ``think``.
- ``tools`` of type ``function`` (``name``, ``description``, ``parameters``). ``tool_choice``:
  ``auto`` (default), ``none`` (tools not offered), ``required`` or ``{"type": "function", "name"}``
  (the reply is constrained to one call; Ollama ignores it).
- ``previous_response_id`` and ``conversation`` are refused (400): this server stores no
  responses, so the client sends the whole conversation in ``input``. ``background`` too.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from registry import errors
from registry.modelserver.api.json_body import body_field, decode_json
from registry.modelserver.api.tool_choice import forced_call_format
from registry.modelserver.api.tool_results import name_tool_results
from registry.oci.name import ModelName

__all__ = ["ResponsesRequest", "responses_request"]


@dataclass(frozen=True)
class ResponsesRequest:
    """A checked Responses request: the model as named and parsed, the Ollama chat ``body``
    (``options``, ``tools``, ``format``, ``think``), ``messages`` and ``stream``."""

    model: str
    name: ModelName
    body: dict[str, Any]
    messages: list[dict[str, Any]]
    stream: bool


def _content(content: Any, where: str) -> tuple[str, list[str]]:
    """Text and images (base64) of a message's content (Ollama's ``convertResponsesContent``)."""
    if content is None:
        return "", []
    if isinstance(content, str):
        return content, []
    if not isinstance(content, list):
        raise errors.InvalidInput(f"{where}: content must be a string or array")
    text, images = "", []
    for i, part in enumerate(content):
        if not isinstance(part, dict):
            raise errors.InvalidInput(f"{where}: content[{i}] must be an object")
        kind = part.get("type")
        if kind in ("input_text", "output_text"):
            value = part.get("text", "")
            if not isinstance(value, str):
                raise errors.InvalidInput(f"{where}: content[{i}]: text must be a string")
            text += value
        elif kind == "input_image":
            url = part.get("image_url")
            if url:
                images.append(_data_url_image(url, f"{where}: content[{i}]"))
        elif kind == "input_file":
            raise errors.InvalidInput("file inputs are not currently supported")
        else:
            raise errors.InvalidInput(f"{where}: content[{i}]: unknown content type: {kind}")
    return text, images


def _data_url_image(url: Any, where: str) -> str:
    """The base64 data of a ``data:image/...;base64,`` URL (remote URLs are not fetched)."""
    if not isinstance(url, str) or not url.startswith("data:"):
        raise errors.InvalidInput(f"{where}: only base64 data URLs are supported for images")
    header, _, data = url.partition(",")
    if not header.endswith(";base64") or not data:
        raise errors.InvalidInput(f"{where}: invalid image data URL")
    return data


def _arguments(value: Any, where: str) -> dict[str, Any]:
    if value in (None, ""):
        return {}
    if not isinstance(value, str):
        raise errors.InvalidInput(f"{where}: arguments must be a JSON string")
    args = decode_json(value, what="function call arguments")
    if not isinstance(args, dict):
        raise errors.InvalidInput(f"{where}: failed to parse function call arguments: expected an object")
    return args


def _string(item: dict[str, Any], key: str, where: str) -> str:
    value = item.get(key, "")
    if not isinstance(value, str):
        raise errors.InvalidInput(f"{where}: {key} must be a string")
    return value


def _input_messages(raw: Any) -> list[dict[str, Any]]:
    """The messages of ``input`` (Ollama's item loop, pending reasoning included)."""
    if raw is None or isinstance(raw, str):
        return [{"role": "user", "content": raw}] if raw else []
    if not isinstance(raw, list):
        raise errors.InvalidInput("input must be a string or array")
    out: list[dict[str, Any]] = []
    thinking = ""
    for i, item in enumerate(raw):
        where = f"input[{i}]"
        if not isinstance(item, dict):
            raise errors.InvalidInput(f"{where}: expected an object")
        kind = item.get("type") or ("message" if item.get("role") else "")
        if kind == "reasoning":
            thinking = _string(item, "encrypted_content", where)
        elif kind == "message":
            role = item.get("role")
            if not isinstance(role, str) or not role:
                raise errors.InvalidInput(f"{where}: role must be a non-empty string")
            text, images = _content(item.get("content"), where)
            message: dict[str, Any] = {"role": role.lower(), "content": text}
            if images:
                message["images"] = images
            if message["role"] == "assistant" and thinking:
                message["thinking"], thinking = thinking, ""
            out.append(message)
        elif kind == "function_call":
            name = _string(item, "name", where)
            if not name:
                raise errors.InvalidInput(f"{where}: function_call needs a name")
            call = {
                "id": _string(item, "call_id", where),
                "function": {"name": name, "arguments": _arguments(item.get("arguments"), where)},
            }
            if out and out[-1]["role"] == "assistant":
                out[-1].setdefault("tool_calls", []).append(call)
            else:
                out.append({"role": "assistant", "content": "", "tool_calls": [call]})
            if thinking:
                out[-1]["thinking"], thinking = thinking, ""
        elif kind == "function_call_output":
            output = item.get("output", "")
            text, images = (output, []) if isinstance(output, str) else _content(output, where)
            message = {"role": "tool", "content": text, "tool_call_id": _string(item, "call_id", where)}
            if images:
                message["images"] = images
            out.append(message)
        elif not kind:
            raise errors.InvalidInput(f"{where}: input item missing required 'type' field")
        else:
            raise errors.InvalidInput(f"{where}: unknown input item type: {kind!r}")
    if thinking:
        out.append({"role": "assistant", "content": "", "thinking": thinking})
    return out


def _tools(raw: Any) -> list[dict[str, Any]]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise errors.InvalidInput("invalid tools: expected an array")
    tools = []
    for i, tool in enumerate(raw):
        if not isinstance(tool, dict):
            raise errors.InvalidInput(f"invalid tools[{i}]: expected an object")
        if tool.get("type") != "function":
            raise errors.InvalidInput(
                f"invalid tools[{i}]: tool type {tool.get('type')!r} is not supported (only 'function')"
            )
        name = tool.get("name")
        if not isinstance(name, str) or not name:
            raise errors.InvalidInput(f"invalid tools[{i}]: name is required")
        description = tool.get("description") or ""
        params = tool.get("parameters")
        if not isinstance(description, str) or (params is not None and not isinstance(params, dict)):
            raise errors.InvalidInput(
                f"invalid tools[{i}]: description must be a string and parameters an object"
            )
        function: dict[str, Any] = {"name": name, "description": description}
        if params is not None:
            function["parameters"] = params
        tools.append({"type": "function", "function": function})
    return tools


def _tool_format(choice: Any, tools: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], Any]:
    if choice is None or choice == "auto":
        return tools, None
    if choice == "none":
        return [], None
    if choice == "required":
        if not tools:
            raise errors.InvalidInput("tool_choice 'required' needs tools")
        return tools, forced_call_format(tools)
    if isinstance(choice, dict) and choice.get("type") == "function":
        name = choice.get("name")
        if not any(t["function"]["name"] == name for t in tools):
            raise errors.InvalidInput(f"tool_choice names function {name!r}, which is not in tools")
        return tools, forced_call_format(tools, name)
    raise errors.InvalidInput(
        'invalid tool_choice: expected "auto", "none", "required" or {"type": "function", "name": ...}'
    )


def _format(text: Any) -> Any:
    if text is None:
        return None
    if not isinstance(text, dict):
        raise errors.InvalidInput("invalid text: expected an object")
    fmt = text.get("format")
    if fmt is None:
        return None
    if not isinstance(fmt, dict):
        raise errors.InvalidInput("invalid text.format: expected an object")
    if fmt.get("type") == "json_schema":
        schema = fmt.get("schema")
        if schema is not None and not isinstance(schema, dict):
            raise errors.InvalidInput("invalid text.format.schema: expected an object")
        return schema or "json"
    if fmt.get("type") == "json_object":
        return "json"
    return None


def _think(reasoning: Any) -> bool | str | None:
    """``reasoning.effort`` as ``think`` (Ollama's ``thinkFromReasoningEffort``): ``none`` is off,
    ``minimal`` low, ``low``/``medium``/``high`` that level, ``max``/``xhigh``/``ultra`` high (the
    highest level this server knows)."""
    if reasoning is None:
        return None
    if not isinstance(reasoning, dict):
        raise errors.InvalidInput("invalid reasoning: expected an object")
    effort = reasoning.get("effort")
    levels: dict[Any, bool | str] = {
        "none": False,
        "minimal": "low",
        "low": "low",
        "medium": "medium",
        "high": "high",
        "max": "high",
        "xhigh": "high",
        "ultra": "high",
    }
    if effort in (None, ""):
        return None
    if isinstance(effort, str) and effort in levels:
        return levels[effort]
    raise errors.InvalidInput(
        f'invalid reasoning value: {json.dumps(effort)} (must be "minimal", "low", "medium", '
        '"high", "xhigh", "ultra", "max", or "none")'
    )


def responses_request(body: dict[str, Any]) -> ResponsesRequest:
    """Check and convert a Responses request body.

    Raises:
        InvalidInput: ``model is required``, ``previous_response_id is not supported ...``, or
            what is wrong with a field, an input item or a tool.
    """
    model = body.get("model")
    if model is not None and not isinstance(model, str):
        raise errors.InvalidInput("invalid model: expected a string")
    if not model:
        raise errors.InvalidInput("model is required")
    for key in ("previous_response_id", "conversation"):
        if body.get(key) not in (None, ""):
            raise errors.InvalidInput(
                f"{key} is not supported: this server does not store responses; "
                "send the whole conversation in input"
            )
    if body.get("background"):
        raise errors.InvalidInput("background responses are not supported by this server")
    instructions = body_field(body, "instructions", str)
    messages = [{"role": "system", "content": instructions}] if instructions else []
    messages += _input_messages(body.get("input"))
    name_tool_results(messages)
    options: dict[str, Any] = {"temperature": 1.0 if body.get("temperature") is None else body["temperature"]}
    if body.get("top_p") is not None:
        options["top_p"] = body["top_p"]
    if body.get("max_output_tokens") is not None:
        options["num_predict"] = body["max_output_tokens"]
    tools, forced = _tool_format(body.get("tool_choice"), _tools(body.get("tools")))
    internal: dict[str, Any] = {
        "options": options,
        "tools": tools or None,
        "format": forced if forced is not None else _format(body.get("text")),
    }
    think = _think(body.get("reasoning"))
    if think is not None:
        internal["think"] = think
    stream = body_field(body, "stream", bool)
    return ResponsesRequest(model, ModelName.parse(model), internal, messages, bool(stream))
