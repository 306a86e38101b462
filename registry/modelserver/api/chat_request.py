"""``/api/chat``'s request logic, shared by the Ollama route and OpenAI's ``/v1/chat/completions``:
message and tool validation, the conversation the template sees (images placed as Ollama places
them), and Ollama's chat events
(thinking apart from content; with tools, text streams as it comes and each tool call is sent as
``tool_calls`` once complete; logprobs per token)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from registry import errors
from registry.modelserver.api.images import check_image, place_images
from registry.modelserver.api.inference import (
    Prepared,
    check_format,
    check_logprobs,
    check_think,
    completion_events,
    created_at,
    durations,
    load_only_events,
    model_template,
    render_prompt,
    reply_stream,
    require_capabilities,
    require_vision,
    scheduler_of,
)
from registry.modelserver.prompt import (
    HarmonyError,
    ReplyPiece,
    drop_earlier_thinking,
    harmony_tool_names,
    uses_harmony,
)

__all__ = ["ChatReply", "chat_messages", "chat_stream", "check_messages", "check_tools", "collect_chat"]


def _check_tool_calls(calls: Any, where: str) -> None:
    if not isinstance(calls, list):
        raise errors.InvalidInput(f"{where}: tool_calls must be an array")
    for call in calls:
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            raise errors.InvalidInput(f'{where}: each tool call needs a "function" with a string "name"')
        if not isinstance(function.get("arguments", {}), dict):
            raise errors.InvalidInput(f"{where}: tool call arguments must be an object")


def check_messages(messages: Any) -> list[dict[str, Any]]:
    """Ollama's messages: a non-empty string ``role`` (lower-cased) and a string ``content``, which
    may be left out (or null) only by a message that carries ``tool_calls`` (a list, even an empty
    one), ``images`` or ``thinking`` instead (an assistant's tool call, an image-only user turn)."""
    if messages is None:
        return []
    if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
        raise errors.InvalidInput("messages must be a list of objects")
    out = []
    for i, m in enumerate(messages):
        where = f"invalid message {i}"
        role, content = m.get("role"), m.get("content")
        if not isinstance(role, str) or not role:
            raise errors.InvalidInput(f"{where}: role must be a non-empty string")
        carries = isinstance(m.get("tool_calls"), list) or m.get("images") or m.get("thinking")
        if content is None and not carries:
            raise errors.InvalidInput(f"{where}: content is required")
        if content is not None and not isinstance(content, str):
            raise errors.InvalidInput(f"{where}: content must be a string")
        if m.get("thinking") is not None and not isinstance(m["thinking"], str):
            raise errors.InvalidInput(f"{where}: thinking must be a string")
        if m.get("tool_calls") is not None:
            _check_tool_calls(m["tool_calls"], where)
        images = m.get("images")
        if images is not None and (
            not isinstance(images, list) or not all(isinstance(x, str) for x in images)
        ):
            raise errors.InvalidInput(f"{where}: images must be an array of base64 strings")
        out.append({**m, "role": role.lower(), "content": content or ""})
    return out


def check_tools(tools: Any) -> list[dict[str, Any]] | None:
    """Ollama's ``tools``: an array of ``{"type": "function", "function": {"name", "description",
    "parameters"}}`` objects (None when absent or empty). Raises InvalidInput."""
    if tools is None or tools == []:
        return None
    if not isinstance(tools, list):
        raise errors.InvalidInput("tools must be an array of objects")
    for i, tool in enumerate(tools):
        function = tool.get("function", {}) if isinstance(tool, dict) else None
        if not isinstance(function, dict):
            raise errors.InvalidInput(
                f'invalid tool {i}: expected {{"type": "function", "function": {{...}}}}'
            )
        if not isinstance(function.get("name", ""), str):
            raise errors.InvalidInput(f"invalid tool {i}: the function name must be a string")
        if not isinstance(function.get("parameters", {}), dict | None):
            raise errors.InvalidInput(f"invalid tool {i}: the function parameters must be an object")
    return tools


def chat_messages(prepared: Prepared, request_messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The model's MESSAGE history plus the request's, with the model's SYSTEM prepended when the
    conversation has no system message first (Ollama's rule), and earlier ``<think>`` blocks
    dropped for the models Ollama drops them for (:func:`drop_earlier_thinking`)."""
    messages = [*prepared.info.messages, *request_messages]
    if prepared.info.system and (not messages or messages[0].get("role") != "system"):
        messages.insert(0, {"role": "system", "content": prepared.info.system})
    family = str(prepared.info.config.get("model_family") or "")
    return drop_earlier_thinking(messages, family=family, model=prepared.info.row.name.model)


async def chat_stream(
    request: web.Request, body: dict[str, Any], prepared: Prepared, messages: list[dict[str, Any]]
) -> AsyncIterator[dict[str, Any]]:
    """Events of ``/api/chat`` for validated messages. The reply is split by :func:`reply_stream`:
    ``message.thinking`` apart from ``message.content`` when the request thinks, and with
    ``tools`` text as it comes and each tool call as ``tool_calls`` once complete. With
    ``logprobs`` every event carries its tokens' ``logprobs`` (sent even while text is held)."""
    started = time.perf_counter()
    tools = check_tools(body.get("tools"))
    fmt = check_format(body.get("format"))
    logprobs = check_logprobs(body)
    think = require_capabilities(prepared, think=check_think(body.get("think")), tools=bool(tools))
    if any(m.get("images") for m in messages):
        require_vision(prepared)
        for i, m in enumerate(messages):
            for j, image in enumerate(m.get("images") or []):
                check_image(image, f"invalid message {i}: image {j}")
    if not messages:
        async for event in load_only_events(
            request, prepared, {"message": {"role": "assistant", "content": ""}}
        ):
            yield event
        return
    async with scheduler_of(request).lease(prepared.spec) as lease:
        conversation, images = place_images(chat_messages(prepared, messages))
        template = model_template(prepared, lease)
        family = str(prepared.info.config.get("model_family") or "")
        parser = str(prepared.info.config.get("parser") or "")
        shown, harmony_names = (
            harmony_tool_names(tools) if uses_harmony(family, template.source, parser) else (tools, {})
        )
        prompt = await render_prompt(request, lambda: template.render_chat(conversation, shown, think=think))
        reply = reply_stream(
            template,
            prompt,
            think,
            tools,
            family=family,
            parser=parser,
            prefill=conversation[-1] if conversation else None,
            harmony_names=harmony_names,
        )
        events = completion_events(
            request,
            lease,
            prompt,
            prepared.options,
            fmt,
            logprobs=logprobs,
            images=images,
            preserved_tokens=reply.preserved_tokens,
        )
        try:
            async for event in events:
                if not event.get("done"):
                    piece = reply.feed(event["content"])
                    if piece or reply.plain or event.get("logprobs"):
                        yield _chat_chunk(prepared.name, piece, event.get("logprobs"))
                    continue
                piece = reply.finish()
                if piece:
                    yield _chat_chunk(prepared.name, piece, None)
                final = _chat_chunk(prepared.name, ReplyPiece(), None)
                final.update(
                    done=True,
                    done_reason=event.get("done_reason", "stop"),
                    **durations(started, lease, event),
                )
                yield final
        except HarmonyError as err:  # the model's tool call is not JSON (Ollama: a 500 error)
            await events.aclose()  # ends the runner's generation now
            raise errors.RunnerError(str(err)) from err


def _chat_chunk(model: str, piece: ReplyPiece, logprobs: list[dict[str, Any]] | None) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": piece.content}
    if piece.thinking:
        message["thinking"] = piece.thinking
    if piece.calls:
        message["tool_calls"] = piece.calls
    chunk = {"model": model, "created_at": created_at(), "message": message, "done": False}
    if logprobs:
        chunk["logprobs"] = logprobs
    return chunk


@dataclass(slots=True)
class ChatReply:
    """A whole chat reply gathered from :func:`chat_stream`'s events (for the non-streaming answers
    of the routes that reshape them: ``/v1/messages``, ``/v1/responses``)."""

    content: str = ""
    thinking: str = ""
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    #: The final (``done``) event, with its ``done_reason`` and counts; empty if none came.
    final: dict[str, Any] = field(default_factory=dict)


async def collect_chat(events: AsyncIterator[dict[str, Any]]) -> ChatReply:
    """Read ``events`` to the end into one :class:`ChatReply`."""
    reply = ChatReply()
    async for event in events:
        if event.get("done"):
            reply.final = event
        message = event.get("message", {})
        reply.content += message.get("content", "")
        reply.thinking += message.get("thinking") or ""
        reply.tool_calls += message.get("tool_calls") or []
    return reply
