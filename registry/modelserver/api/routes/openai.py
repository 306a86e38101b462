"""The OpenAI-compatible API: ``/v1/chat/completions``, ``/v1/completions``, ``/v1/embeddings``,
``/v1/models`` and ``/v1/models/{model}``, translated onto the Ollama handlers' streams (as Ollama's
``openai`` middleware does). Errors are OpenAI-shaped: ``{"error": {"message", "type", "param",
"code"}}``."""

from __future__ import annotations

import asyncio
import base64
import json
import random
import struct
import time
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from registry import errors
from registry.modelserver.api import keys
from registry.modelserver.api.chat_request import chat_stream, check_tools
from registry.modelserver.api.embed_request import check_dimensions, embed_input_list, embed_inputs
from registry.modelserver.api.errors import status_for
from registry.modelserver.api.generate_request import generate_stream
from registry.modelserver.api.images import image_from_url
from registry.modelserver.api.inference import prepare
from registry.modelserver.api.json_body import decode_json, decode_json_object
from registry.modelserver.api.openai_errors import openai_error, openai_guard
from registry.modelserver.api.streaming import stream_events
from registry.oci.name import ModelName

__all__ = ["add_routes"]


async def _body(request: web.Request) -> dict[str, Any]:
    return decode_json_object(await request.read())


def _model(body: dict[str, Any]) -> tuple[str, ModelName]:
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise errors.InvalidInput("model is required")
    return model, ModelName.parse(model)


def _options(body: dict[str, Any], *, chat: bool) -> dict[str, Any]:
    opts: dict[str, Any] = {}
    if body.get("max_tokens") is not None or body.get("max_completion_tokens") is not None:
        opts["num_predict"] = body.get("max_completion_tokens") or body.get("max_tokens")
    for key in ("seed", "frequency_penalty", "presence_penalty"):
        if body.get(key) is not None:
            opts[key] = body[key]
    stop = body.get("stop")
    if stop is not None:
        opts["stop"] = [stop] if isinstance(stop, str) else stop
    opts["temperature"] = body["temperature"] if body.get("temperature") is not None else 1.0
    opts["top_p"] = body["top_p"] if body.get("top_p") is not None else 1.0
    return opts


#: OpenAI's reasoning efforts as Ollama's ``think`` (``thinkFromReasoningEffort``).
_EFFORTS: dict[str, bool | str] = {
    "none": False,
    "minimal": "low",
    "low": "low",
    "medium": "medium",
    "high": "high",
    "max": "max",
    "xhigh": "max",
    "ultra": "max",
}


def _think(body: dict[str, Any]) -> bool | str | None:
    """``reasoning.effort`` (first) or ``reasoning_effort`` as Ollama's ``think``; None when
    neither is given (the model's default). Raises InvalidInput."""
    effort = _object(body, "reasoning").get("effort")
    if effort is None:
        effort = body.get("reasoning_effort")
    if effort in (None, ""):
        return None
    if not isinstance(effort, str) or effort not in _EFFORTS:
        raise errors.InvalidInput(
            f"invalid reasoning value: {json.dumps(effort)} (must be "
            '"minimal", "low", "medium", "high", "xhigh", "ultra", "max", or "none")'
        )
    return _EFFORTS[effort]


def _object(body: dict[str, Any], key: str) -> dict[str, Any]:
    value = body.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise errors.InvalidInput(f"invalid {key}: expected an object")
    return value


def _format(body: dict[str, Any]) -> Any:
    fmt = _object(body, "response_format")
    if fmt.get("type") == "json_object":
        return "json"
    if fmt.get("type") == "json_schema":
        schema = _object(fmt, "json_schema").get("schema")
        return schema if isinstance(schema, dict) else "json"
    return None


def _content(content: Any, has_tool_calls: bool) -> tuple[str, list[str]]:
    """A message's text and images: a string, or the text and ``image_url`` parts of a list.
    Ollama's ``fromChatRequest`` makes each part a message of its own; here the parts stay one
    message (the texts joined by newlines, the images placed before them), so that templates
    that insist on alternating roles (Gemma 3's) accept an image with a question."""
    if isinstance(content, str):
        return content, []
    if content is None and has_tool_calls:
        return "", []
    if isinstance(content, list):
        parts: list[str] = []
        images: list[str] = []
        for part in content:
            if not isinstance(part, dict):
                raise errors.InvalidInput("invalid message format: content parts must be objects")
            if part.get("type") == "text":
                if not isinstance(part.get("text", ""), str):
                    raise errors.InvalidInput("invalid message format: text must be a string")
                parts.append(part.get("text", ""))
            elif part.get("type") == "image_url":
                url = part.get("image_url")
                images.append(image_from_url(url.get("url") if isinstance(url, dict) else url))
        return "\n".join(parts), images
    kind = "<nil>" if content is None else type(content).__name__
    raise errors.InvalidInput(f"invalid message content type: {kind}")


def _tool_calls(calls: Any) -> list[dict[str, Any]]:
    if not isinstance(calls, list):
        raise errors.InvalidInput("invalid tool_calls: expected an array")
    out = []
    for call in calls:
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            raise errors.InvalidInput('invalid tool call: expected {"function": {"name", "arguments"}}')
        converted: dict[str, Any] = {
            "function": {"name": function["name"], "arguments": _args(function.get("arguments"))}
        }
        if isinstance(call.get("id"), str) and call["id"]:
            converted["id"] = call["id"]
        out.append(converted)
    return out


def _name_of_call(messages: list[dict[str, Any]], call_id: str) -> str:
    """The function name of the latest earlier tool call with id ``call_id`` ("" when none; as
    Ollama's ``nameFromToolCallID``)."""
    for message in reversed(messages):
        for call in message.get("tool_calls") or []:
            if call.get("id") == call_id:
                return str(call["function"]["name"])
    return ""


def _messages(body: dict[str, Any]) -> list[dict[str, Any]]:
    raw = body.get("messages")
    if not isinstance(raw, list) or not raw:
        raise errors.InvalidInput("messages is required")
    out: list[dict[str, Any]] = []
    for m in raw:
        if not isinstance(m, dict):
            raise errors.InvalidInput("invalid message: expected an object")
        role = m.get("role", "user")
        if not isinstance(role, str):
            raise errors.InvalidInput("invalid message: role must be a string")
        # tool_calls present, even [], makes content optional (Go decodes [] to a non-nil slice)
        text, images = _content(m.get("content"), isinstance(m.get("tool_calls"), list))
        msg: dict[str, Any] = {"role": role.lower(), "content": text}
        if images:
            msg["images"] = images
        if m.get("tool_calls"):
            msg["tool_calls"] = _tool_calls(m["tool_calls"])
        reasoning = m.get("reasoning", m.get("reasoning_content"))
        if isinstance(reasoning, str) and reasoning:
            msg["thinking"] = reasoning
        if isinstance(m.get("name"), str) and m["name"] and msg["role"] == "tool":
            msg["tool_name"] = m["name"]
        if isinstance(m.get("tool_call_id"), str) and m["tool_call_id"]:
            msg["tool_call_id"] = m["tool_call_id"]
            if msg["role"] == "tool" and "tool_name" not in msg:
                name = _name_of_call(out, m["tool_call_id"])
                if name:
                    msg["tool_name"] = name
        out.append(msg)
    return out


def _args(value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        value = decode_json(value, what="tool call arguments") if value.strip() else {}
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise errors.InvalidInput("invalid tool call arguments: expected a JSON object")
    return value


def _oai_tool_calls(calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "index": c["function"].get("index", i),
            "id": c.get("id", ""),
            "type": "function",
            "function": {"name": c["function"]["name"], "arguments": json.dumps(c["function"]["arguments"])},
        }
        for i, c in enumerate(calls)
    ]


async def _sse(request: web.Request, chunks: AsyncIterator[dict[str, Any]]) -> web.StreamResponse:
    return await stream_events(
        request,
        chunks,
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"},
        frame=_sse_frame,
        error_frame=lambda message: _sse_frame(
            {"error": {"message": message, "type": "api_error", "param": None, "code": None}}
        ),
        internal_error=b'data: {"error": {"message": "internal server error", "type": "api_error"}}\n\n',
        refuse=lambda err: openai_error(status_for(err), str(err)),
        trailer=b"data: [DONE]\n\n",
    )


def _sse_frame(event: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(event).encode() + b"\n\n"


def _usage(final: dict[str, Any]) -> dict[str, int]:
    p, c = int(final.get("prompt_eval_count", 0)), int(final.get("eval_count", 0))
    return {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c}


async def chat_completions(request: web.Request) -> web.StreamResponse:
    """``POST /v1/chat/completions``."""
    body = await _body(request)
    text, name = _model(body)
    messages = _messages(body)
    internal = {
        "options": _options(body, chat=True),
        "tools": check_tools(body.get("tools")),
        "format": _format(body),
        "think": _think(body),
        "logprobs": body.get("logprobs"),
        "top_logprobs": body.get("top_logprobs"),
    }
    prepared = await prepare(request, internal, text, name)
    events = chat_stream(request, internal, prepared, messages)
    ident, created = f"chatcmpl-{random.randint(0, 998)}", int(time.time())
    base = {"id": ident, "created": created, "model": text, "system_fingerprint": "fp_ollama"}
    if body.get("stream"):
        include_usage = bool(_object(body, "stream_options").get("include_usage"))
        return await _sse(request, _chat_chunks(events, base, include_usage))
    content, reasoning, final = "", "", {}
    calls: list[dict[str, Any]] = []
    logprobs: list[dict[str, Any]] = []
    async for event in events:
        if event.get("done"):
            final = event
        content += event["message"].get("content", "")
        reasoning += event["message"].get("thinking", "")
        calls += event["message"].get("tool_calls") or []
        logprobs += event.get("logprobs") or []
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if reasoning:
        message["reasoning"] = reasoning
    reason = "length" if final.get("done_reason") == "length" else "stop"
    if calls:
        message["tool_calls"] = _oai_tool_calls(calls)
        reason = "tool_calls"
    choice: dict[str, Any] = {"index": 0, "message": message, "finish_reason": reason}
    if logprobs:
        choice["logprobs"] = {"content": logprobs}
    return web.json_response(
        {**base, "object": "chat.completion", "choices": [choice], "usage": _usage(final)}
    )


async def _chat_chunks(
    events: AsyncIterator[dict[str, Any]], base: dict[str, Any], include_usage: bool
) -> AsyncIterator[dict[str, Any]]:
    """OpenAI's chunks for Ollama's chat events (``ToStreamChunks``): the role in the first delta,
    ``reasoning`` in a chunk of its own before content or tool calls of the same event, tool calls
    as ``delta.tool_calls`` (index, id, type, function name and JSON arguments) once each is
    complete, a finish chunk with an empty delta, then the usage when asked."""
    first = True
    had_calls = False
    async for event in events:
        chunk = {**base, "object": "chat.completion.chunk"}
        if event.get("done"):
            reason = (
                "tool_calls" if had_calls else ("length" if event.get("done_reason") == "length" else "stop")
            )
            yield {**chunk, "choices": [{"index": 0, "delta": {}, "finish_reason": reason}]}
            if include_usage:
                yield {**chunk, "choices": [], "usage": _usage(event)}
            return
        message = event["message"]
        logprobs = {"content": event["logprobs"]} if event.get("logprobs") else None
        deltas: list[dict[str, Any]] = []
        content = message.get("content", "")
        calls = message.get("tool_calls")
        if message.get("thinking"):  # alone, or in a chunk of its own before content or calls
            mixed = bool(content or calls)
            deltas.append(
                {"reasoning": message["thinking"]}
                if mixed
                else {"content": "", "reasoning": message["thinking"]}
            )
        if not deltas or content or calls:
            delta: dict[str, Any] = {"content": content}
            if calls:
                had_calls = True
                delta["tool_calls"] = _oai_tool_calls(calls)
            deltas.append(delta)
        for delta in deltas:
            if first:
                delta["role"] = "assistant"
                first = False
            choice: dict[str, Any] = {"index": 0, "delta": delta, "finish_reason": None}
            if logprobs is not None:
                choice["logprobs"], logprobs = logprobs, None
            yield {**chunk, "choices": [choice]}


async def completions(request: web.Request) -> web.StreamResponse:
    """``POST /v1/completions``."""
    body = await _body(request)
    text, name = _model(body)
    prompt = body.get("prompt", "")
    if isinstance(prompt, list) and len(prompt) == 1 and isinstance(prompt[0], str):
        prompt = prompt[0]
    if not isinstance(prompt, str):
        raise errors.InvalidInput("prompt must be a string")
    internal = {
        "options": _options(body, chat=False),
        "prompt": prompt,
        "suffix": body.get("suffix") or "",
        "raw": False,
        **_completion_logprobs(body.get("logprobs")),
    }
    prepared = await prepare(request, internal, text, name)
    events = generate_stream(request, internal, prepared)
    base = {
        "id": f"cmpl-{random.randint(0, 998)}",
        "created": int(time.time()),
        "model": text,
        "system_fingerprint": "fp_ollama",
        "object": "text_completion",
    }
    if body.get("stream"):
        return await _sse(request, _completion_chunks(events, base))
    out, final = "", {}
    logprobs: list[dict[str, Any]] = []
    async for event in events:
        out += event.get("response", "")
        logprobs += event.get("logprobs") or []
        if event.get("done"):
            final = event
    reason = "length" if final.get("done_reason") == "length" else "stop"
    choice = {"index": 0, "text": out, "logprobs": _legacy_logprobs(logprobs), "finish_reason": reason}
    return web.json_response({**base, "choices": [choice], "usage": _usage(final)})


def _completion_logprobs(value: Any) -> dict[str, Any]:
    """``/v1/completions``' ``logprobs`` (an integer, 0..20: that many alternatives; OpenAI allows
    at most 5, Ollama 20) as Ollama's ``logprobs``/``top_logprobs``. Raises InvalidInput."""
    if value is None:
        return {}
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 20:
        raise errors.InvalidInput("logprobs must be an integer between 0 and 20")
    return {"logprobs": True, "top_logprobs": value}


def _legacy_logprobs(logprobs: list[dict[str, Any]]) -> dict[str, Any] | None:
    """OpenAI's legacy completion ``logprobs`` (``tokens``, ``token_logprobs``, ``top_logprobs``
    as token-to-logprob maps, ``text_offset``) from Ollama's per-token list; None when empty."""
    if not logprobs:
        return None
    offsets, at = [], 0
    for lp in logprobs:
        offsets.append(at)
        at += len(lp["token"])
    return {
        "tokens": [lp["token"] for lp in logprobs],
        "token_logprobs": [lp["logprob"] for lp in logprobs],
        "top_logprobs": [{t["token"]: t["logprob"] for t in lp.get("top_logprobs") or []} for lp in logprobs],
        "text_offset": offsets,
    }


async def _completion_chunks(
    events: AsyncIterator[dict[str, Any]], base: dict[str, Any]
) -> AsyncIterator[dict[str, Any]]:
    async for event in events:
        reason = None
        if event.get("done"):
            reason = "length" if event.get("done_reason") == "length" else "stop"
        yield {
            **base,
            "choices": [
                {
                    "index": 0,
                    "text": event.get("response", ""),
                    "logprobs": _legacy_logprobs(event.get("logprobs") or []),
                    "finish_reason": reason,
                }
            ],
        }


async def embeddings(request: web.Request) -> web.StreamResponse:
    """``POST /v1/embeddings``."""
    body = await _body(request)
    text, name = _model(body)
    raw_input = body.get("input")
    inputs = [""] if raw_input == "" else embed_input_list(raw_input)  # "" is one input (Ollama)
    if not inputs:
        raise errors.InvalidInput("invalid input")
    dimensions = check_dimensions(body.get("dimensions"))
    prepared = await prepare(request, {}, text, name)
    vectors, count, _ = await embed_inputs(request, prepared, inputs, truncate=True, dimensions=dimensions)
    base64_out = body.get("encoding_format") == "base64"
    data = [
        {
            "object": "embedding",
            "index": i,
            "embedding": base64.b64encode(struct.pack(f"<{len(v)}f", *v)).decode() if base64_out else v,
        }
        for i, v in enumerate(vectors)
    ]
    return web.json_response(
        {
            "object": "list",
            "data": data,
            "model": text,
            "usage": {"prompt_tokens": count, "total_tokens": count},
        }
    )


def _model_entry(row: Any) -> dict[str, Any]:
    return {
        "id": row.name.display_shortest,
        "object": "model",
        "created": int(row.modified_at),
        "owned_by": row.name.namespace if hasattr(row.name, "namespace") else "library",
    }


async def list_models(request: web.Request) -> web.StreamResponse:
    """``GET /v1/models``."""
    rows = await asyncio.to_thread(request.app[keys.LIBRARY].list_models)
    return web.json_response({"object": "list", "data": [_model_entry(r) for r in rows]})


async def retrieve_model(request: web.Request) -> web.StreamResponse:
    """``GET /v1/models/{model}``."""
    text = request.match_info["model"]
    library = request.app[keys.LIBRARY]
    row = await asyncio.to_thread(library.find_model, ModelName.parse(text))
    if row is None:
        return openai_error(404, f"model '{text}' not found")
    return web.json_response(_model_entry(row))


def add_routes(app: web.Application) -> None:
    """Register this module's routes."""
    app.router.add_post("/v1/chat/completions", openai_guard(chat_completions))
    app.router.add_post("/v1/completions", openai_guard(completions))
    app.router.add_post("/v1/embeddings", openai_guard(embeddings))
    app.router.add_get("/v1/models", openai_guard(list_models))
    app.router.add_get("/v1/models/{model:.+}", openai_guard(retrieve_model))
