"""The OpenAI Responses API: ``POST /v1/responses`` over the chat stream, as Ollama's
``ResponsesMiddleware`` (the request conversion is
:mod:`registry.modelserver.api.responses_request`).

The answer is a ``response`` object whose ``output`` holds a ``reasoning`` item (the model's
thinking), a ``message`` item (``output_text``) and one ``function_call`` item per tool call
(``arguments`` a JSON string). As in Ollama, ``status`` is ``completed`` (also when
``max_output_tokens`` cut the reply) and nothing is stored (``store: false``). Streaming sends
server-sent events, each ``event: <type>`` with its JSON carrying ``sequence_number``:
``response.created``, ``response.in_progress``, per item ``response.output_item.added`` ...
``response.output_item.done`` (text: ``response.content_part.added``,
``response.output_text.delta``, ``response.output_text.done``, ``response.content_part.done``;
calls: ``response.function_call_arguments.delta`` and ``.done``; thinking:
``response.reasoning_summary_text.delta`` and ``.done``), then ``response.completed``. Errors are
OpenAI-shaped; one after the stream began is an ``error`` event.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

from aiohttp import web

from registry.modelserver.api.chat_request import chat_stream, collect_chat
from registry.modelserver.api.errors import status_for
from registry.modelserver.api.inference import prepare
from registry.modelserver.api.json_body import decode_json_object
from registry.modelserver.api.openai_errors import openai_error, openai_guard
from registry.modelserver.api.responses_request import responses_request
from registry.modelserver.api.streaming import stream_events

__all__ = ["add_routes"]


def _id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


def _usage(final: dict[str, Any]) -> dict[str, Any]:
    p, c = int(final.get("prompt_eval_count", 0)), int(final.get("eval_count", 0))
    return {
        "input_tokens": p,
        "output_tokens": c,
        "total_tokens": p + c,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens_details": {"reasoning_tokens": 0},
    }


def _response(
    raw: dict[str, Any], ident: str, status: str, output: list[dict[str, Any]], usage: Any
) -> dict[str, Any]:
    """The response object, echoing the request's settings (Ollama's ``ToResponse``)."""
    text: dict[str, Any] = raw["text"] if isinstance(raw.get("text"), dict) else {}
    fmt = text.get("format") if isinstance(text.get("format"), dict) else {"type": "text"}
    reasoning = raw.get("reasoning") if isinstance(raw.get("reasoning"), dict) else None
    tool_choice = raw.get("tool_choice") if raw.get("tool_choice") is not None else "auto"
    return {
        "id": ident,
        "object": "response",
        "created_at": int(time.time()),
        "completed_at": int(time.time()) if status == "completed" else None,
        "status": status,
        "incomplete_details": None,
        "model": raw["model"],
        "previous_response_id": None,
        "instructions": raw.get("instructions") or None,
        "output": output,
        "error": None,
        "tools": raw.get("tools") or [],
        "tool_choice": tool_choice,
        "truncation": raw.get("truncation") or "disabled",
        "parallel_tool_calls": True,
        "text": {"format": fmt},
        "top_p": raw.get("top_p") if raw.get("top_p") is not None else 1.0,
        "presence_penalty": 0,
        "frequency_penalty": 0,
        "top_logprobs": 0,
        "temperature": raw.get("temperature") if raw.get("temperature") is not None else 1.0,
        "reasoning": (
            {"effort": reasoning.get("effort"), "summary": reasoning.get("summary")} if reasoning else None
        ),
        "usage": usage,
        "max_output_tokens": raw.get("max_output_tokens"),
        "max_tool_calls": None,
        "store": False,
        "background": False,
        "service_tier": "default",
        "metadata": {},
        "safety_identifier": None,
        "prompt_cache_key": None,
    }


def _text_part(text: str) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def _message_item(ident: str, text: str, status: str = "completed") -> dict[str, Any]:
    content = [_text_part(text)] if status == "completed" else []
    return {"id": ident, "type": "message", "status": status, "role": "assistant", "content": content}


def _reasoning_item(ident: str, thinking: str) -> dict[str, Any]:
    return {
        "id": ident,
        "type": "reasoning",
        "summary": [{"type": "summary_text", "text": thinking}],
        "encrypted_content": thinking,
    }


def _call_item(call: dict[str, Any], status: str = "completed") -> dict[str, Any]:
    function = call["function"]
    return {
        "id": _id("fc"),
        "type": "function_call",
        "status": status,
        "call_id": call.get("id", ""),
        "name": function["name"],
        "arguments": json.dumps(function["arguments"]),
    }


async def responses(request: web.Request) -> web.StreamResponse:
    """``POST /v1/responses``."""
    raw = decode_json_object(await request.read())
    req = responses_request(raw)
    prepared = await prepare(request, req.body, req.model, req.name)
    events = chat_stream(request, req.body, prepared, req.messages)
    ident = _id("resp")
    if req.stream:
        return await _sse(request, _Stream(raw, ident).events(events))
    reply = await collect_chat(events)
    content, thinking, calls, final = reply.content, reply.thinking, reply.tool_calls, reply.final
    output: list[dict[str, Any]] = []
    if thinking:
        output.append(_reasoning_item(_id("rs"), thinking))
    if content or not calls:
        output.append(_message_item(_id("msg"), content))
    output += [_call_item(c) for c in calls]
    return web.json_response(_response(raw, ident, "completed", output, _usage(final)))


class _Stream:
    """One response's stream events (Ollama's ``ResponsesStreamConverter``): numbered, with the
    output items closed in order."""

    def __init__(self, raw: dict[str, Any], ident: str) -> None:
        self.raw, self.ident = raw, ident
        self.sequence = 0
        self.done: list[dict[str, Any]] = []  # completed output items, in output order
        self.text_id: str | None = None
        self.text = ""
        self.reasoning_id: str | None = None
        self.thinking = ""

    def _event(self, kind: str, **data: Any) -> dict[str, Any]:
        event = {"type": kind, "sequence_number": self.sequence, **data}
        self.sequence += 1
        return event

    def _index(self) -> int:
        return len(self.done)

    def _think(self, delta: str) -> Iterator[dict[str, Any]]:
        yield from self._close_text()
        if self.reasoning_id is None:
            self.reasoning_id = _id("rs")
            item = {"id": self.reasoning_id, "type": "reasoning", "summary": []}
            yield self._event("response.output_item.added", output_index=self._index(), item=item)
        self.thinking += delta
        yield self._event(
            "response.reasoning_summary_text.delta",
            item_id=self.reasoning_id,
            output_index=self._index(),
            summary_index=0,
            delta=delta,
        )

    def _close_reasoning(self) -> Iterator[dict[str, Any]]:
        if self.reasoning_id is None:
            return
        ident, index = self.reasoning_id, self._index()
        item = _reasoning_item(ident, self.thinking)
        yield self._event(
            "response.reasoning_summary_text.done",
            item_id=ident,
            output_index=index,
            summary_index=0,
            text=self.thinking,
        )
        yield self._event("response.output_item.done", output_index=index, item=item)
        self.done.append(item)
        self.reasoning_id, self.thinking = None, ""

    def _say(self, delta: str) -> Iterator[dict[str, Any]]:
        yield from self._close_reasoning()
        if self.text_id is None:
            self.text_id = _id("msg")
            index = self._index()
            item = _message_item(self.text_id, "", "in_progress")
            yield self._event("response.output_item.added", output_index=index, item=item)
            yield self._event(
                "response.content_part.added",
                item_id=self.text_id,
                output_index=index,
                content_index=0,
                part=_text_part(""),
            )
        self.text += delta
        yield self._event(
            "response.output_text.delta",
            item_id=self.text_id,
            output_index=self._index(),
            content_index=0,
            delta=delta,
            logprobs=[],
        )

    def _close_text(self) -> Iterator[dict[str, Any]]:
        if self.text_id is None:
            return
        ident, index, text = self.text_id, self._index(), self.text
        yield self._event(
            "response.output_text.done",
            item_id=ident,
            output_index=index,
            content_index=0,
            text=text,
            logprobs=[],
        )
        yield self._event(
            "response.content_part.done",
            item_id=ident,
            output_index=index,
            content_index=0,
            part=_text_part(text),
        )
        item = _message_item(ident, text)
        yield self._event("response.output_item.done", output_index=index, item=item)
        self.done.append(item)
        self.text_id, self.text = None, ""

    def _call(self, call: dict[str, Any]) -> Iterator[dict[str, Any]]:
        yield from self._close_reasoning()
        yield from self._close_text()
        item, index = _call_item(call), self._index()
        added = {**item, "status": "in_progress", "arguments": ""}
        yield self._event("response.output_item.added", output_index=index, item=added)
        yield self._event(
            "response.function_call_arguments.delta",
            item_id=item["id"],
            output_index=index,
            delta=item["arguments"],
        )
        yield self._event(
            "response.function_call_arguments.done",
            item_id=item["id"],
            output_index=index,
            arguments=item["arguments"],
        )
        yield self._event("response.output_item.done", output_index=index, item=item)
        self.done.append(item)

    async def events(self, chat: AsyncIterator[dict[str, Any]]) -> AsyncIterator[dict[str, Any]]:
        """The Responses events for ``chat``'s events."""
        first = True
        async for event in chat:
            if first:
                first = False
                created = _response(self.raw, self.ident, "in_progress", [], None)
                yield self._event("response.created", response=created)
                yield self._event("response.in_progress", response=created)
            message = event.get("message", {})
            out: list[dict[str, Any]] = []
            if message.get("thinking"):
                out += self._think(message["thinking"])
            if message.get("content"):
                out += self._say(message["content"])
            for call in message.get("tool_calls") or []:
                out += self._call(call)
            if event.get("done"):
                out += self._close_reasoning()
                out += self._close_text()
                response = _response(self.raw, self.ident, "completed", self.done, _usage(event))
                out.append(self._event("response.completed", response=response))
            for item in out:
                yield item


def _sse_frame(event: dict[str, Any]) -> bytes:
    return f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode()


async def _sse(request: web.Request, events: AsyncIterator[dict[str, Any]]) -> web.StreamResponse:
    def error(message: str) -> bytes:
        return _sse_frame({"type": "error", "code": None, "message": message, "param": None})

    return await stream_events(
        request,
        events,
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"},
        frame=_sse_frame,
        error_frame=error,
        internal_error=error("internal server error"),
        refuse=lambda err: openai_error(status_for(err), str(err)),
    )


def add_routes(app: web.Application) -> None:
    """Register this module's routes."""
    app.router.add_post("/v1/responses", openai_guard(responses))
