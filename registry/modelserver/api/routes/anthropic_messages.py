"""The Anthropic Messages API: ``POST /v1/messages`` and ``POST /v1/messages/count_tokens``, over
the chat stream (as Ollama's ``anthropic`` middleware; the request conversion is
:mod:`registry.modelserver.api.anthropic_request`).

A reply is a ``message`` whose ``content`` holds ``thinking``, ``text`` and ``tool_use`` blocks;
``stop_reason`` is ``tool_use`` when the model called a tool, else ``end_turn`` (``done_reason``
stop) or ``max_tokens`` (length). Streaming sends Anthropic's server-sent events, each
``event: <type>`` with its JSON: ``message_start``, per block ``content_block_start``,
``content_block_delta`` (``text_delta``, ``thinking_delta``, ``input_json_delta``) and
``content_block_stop``, then ``message_delta`` (``stop_reason``, ``usage``) and ``message_stop``.
Errors are ``{"type": "error", "error": {"type", "message"}, "request_id"}`` (an error after the
stream began is an ``error`` event).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from aiohttp import web

from registry import errors
from registry.modelserver.api.anthropic_request import (
    MessagesRequest,
    estimate_input_tokens,
    messages_request,
)
from registry.modelserver.api.chat_request import chat_messages, chat_stream, collect_chat
from registry.modelserver.api.errors import status_for
from registry.modelserver.api.inference import (
    Prepared,
    model_template,
    prepare,
    render_prompt,
    scheduler_of,
)
from registry.modelserver.api.json_body import decode_json_object
from registry.modelserver.api.streaming import stream_events
from registry.store.library.model_info import capabilities

__all__ = ["add_routes", "anthropic_error"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    503: "overloaded_error",
    529: "overloaded_error",
}


def _error_body(status: int, message: str) -> dict[str, Any]:
    return {
        "type": "error",
        "error": {"type": _ERROR_TYPES.get(status, "api_error"), "message": message},
        "request_id": "req_" + secrets.token_hex(12),
    }


def anthropic_error(status: int, message: str) -> web.Response:
    """Anthropic's error object (``invalid_request_error`` for 400, ``not_found_error`` for 404,
    ``overloaded_error`` for 503, else ``api_error``) with ``status``."""
    return web.json_response(_error_body(status, message), status=status)


def _guard(handler: Handler) -> Handler:
    async def wrapped(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except errors.OllamaPyError as err:
            return anthropic_error(status_for(err), str(err))

    return wrapped


def _stop_reason(done_reason: str, has_calls: bool) -> str:
    """Ollama's ``mapStopReason``."""
    if has_calls:
        return "tool_use"
    return {"stop": "end_turn", "length": "max_tokens"}.get(done_reason, "stop_sequence")


def _usage(final: dict[str, Any]) -> dict[str, int]:
    return {
        "input_tokens": int(final.get("prompt_eval_count", 0)),
        "output_tokens": int(final.get("eval_count", 0)),
    }


def _tool_use(call: dict[str, Any]) -> dict[str, Any]:
    function = call["function"]
    return {
        "type": "tool_use",
        "id": call.get("id", ""),
        "name": function["name"],
        "input": function["arguments"],
    }


async def _prepared(request: web.Request, req: MessagesRequest) -> tuple[Prepared, dict[str, Any]]:
    """The resolved model and the chat body, ``think`` unset when the model cannot think (Ollama
    relaxes thinking for this API, so that agents that always ask for it work)."""
    prepared = await prepare(request, req.body, req.model, req.name)
    body = req.body
    if req.relax_thinking and "thinking" not in capabilities(prepared.info):
        body = {k: v for k, v in body.items() if k != "think"}
    return prepared, body


async def messages(request: web.Request) -> web.StreamResponse:
    """``POST /v1/messages``."""
    raw = decode_json_object(await request.read())
    req = messages_request(raw)
    prepared, body = await _prepared(request, req)
    events = chat_stream(request, body, prepared, req.messages)
    ident = "msg_" + secrets.token_hex(12)
    if req.stream:
        return await _sse(request, _stream(events, ident, req.model, estimate_input_tokens(raw)))
    reply = await collect_chat(events)
    content, thinking, calls, final = reply.content, reply.thinking, reply.tool_calls, reply.final
    blocks: list[dict[str, Any]] = []
    if thinking:
        blocks.append({"type": "thinking", "thinking": thinking, "signature": ""})
    if content:
        blocks.append({"type": "text", "text": content})
    blocks += [_tool_use(c) for c in calls]
    return web.json_response(
        {
            "id": ident,
            "type": "message",
            "role": "assistant",
            "model": req.model,
            "content": blocks,
            "stop_reason": _stop_reason(str(final.get("done_reason", "stop")), bool(calls)),
            "stop_sequence": None,
            "usage": _usage(final),
        }
    )


class _Blocks:
    """The open content block of a stream: its index and kind; opening another closes it."""

    def __init__(self) -> None:
        self.index = -1
        self.kind: str | None = None

    def close(self) -> list[dict[str, Any]]:
        if self.kind is None:
            return []
        self.kind = None
        return [{"type": "content_block_stop", "index": self.index}]

    def open(self, kind: str, block: dict[str, Any]) -> list[dict[str, Any]]:
        if self.kind == kind:
            return []
        out = self.close()
        self.index += 1
        self.kind = kind
        return [*out, {"type": "content_block_start", "index": self.index, "content_block": block}]


async def _stream(
    events: AsyncIterator[dict[str, Any]], ident: str, model: str, estimated_input: int
) -> AsyncIterator[dict[str, Any]]:
    """Anthropic's stream events for chat events (Ollama's ``StreamConverter``)."""
    blocks = _Blocks()
    had_calls = False
    first = True
    async for event in events:
        if first:
            first = False
            yield {
                "type": "message_start",
                "message": {
                    "id": ident,
                    "type": "message",
                    "role": "assistant",
                    "model": model,
                    "content": [],
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": {"input_tokens": estimated_input, "output_tokens": 0},
                },
            }
        message = event.get("message", {})
        if message.get("thinking"):
            for out in blocks.open("thinking", {"type": "thinking", "thinking": "", "signature": ""}):
                yield out
            delta = {"type": "thinking_delta", "thinking": message["thinking"]}
            yield {"type": "content_block_delta", "index": blocks.index, "delta": delta}
        if message.get("content"):
            for out in blocks.open("text", {"type": "text", "text": ""}):
                yield out
            delta = {"type": "text_delta", "text": message["content"]}
            yield {"type": "content_block_delta", "index": blocks.index, "delta": delta}
        for call in message.get("tool_calls") or []:
            had_calls = True
            start = {**_tool_use(call), "input": {}}
            for out in blocks.open("tool_use", start):
                yield out
            arguments = json.dumps(call["function"]["arguments"])
            delta = {"type": "input_json_delta", "partial_json": arguments}
            yield {"type": "content_block_delta", "index": blocks.index, "delta": delta}
            for out in blocks.close():
                yield out
        if event.get("done"):
            for out in blocks.close():
                yield out
            reason = _stop_reason(str(event.get("done_reason", "stop")), had_calls)
            yield {
                "type": "message_delta",
                "delta": {"stop_reason": reason, "stop_sequence": None},
                "usage": _usage(event),
            }
            yield {"type": "message_stop"}


def _sse_frame(event: dict[str, Any]) -> bytes:
    return f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode()


async def _sse(request: web.Request, events: AsyncIterator[dict[str, Any]]) -> web.StreamResponse:
    internal = _error_body(500, "internal server error")
    return await stream_events(
        request,
        events,
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"},
        frame=_sse_frame,
        error_frame=lambda message: _sse_frame(
            {"type": "error", "error": {"type": "api_error", "message": message}}
        ),
        internal_error=_sse_frame(internal),
        refuse=lambda err: anthropic_error(status_for(err), str(err)),
    )


async def count_tokens(request: web.Request) -> web.StreamResponse:
    """``POST /v1/messages/count_tokens``: ``{"input_tokens"}``, the prompt the model's template
    renders for the request, tokenized by the model (it is loaded for this). Ollama has no such
    route (its estimate is characters / 4); ``max_tokens`` is not needed here."""
    raw = decode_json_object(await request.read())
    req = messages_request({**raw, "max_tokens": 1})
    prepared, body = await _prepared(request, req)
    async with scheduler_of(request).lease(prepared.spec) as lease:
        conversation = chat_messages(prepared, req.messages)
        tools = body.get("tools")
        prompt = await render_prompt(
            request, lambda: model_template(prepared, lease).render_chat(conversation, tools)
        )
        answer = await lease.runner.call("/tokenize", {"content": prompt, "add_special": True})
    return web.json_response({"input_tokens": len(answer.get("tokens") or [])})


def add_routes(app: web.Application) -> None:
    """Register this module's routes."""
    app.router.add_post("/v1/messages", _guard(messages))
    app.router.add_post("/v1/messages/count_tokens", _guard(count_tokens))
