"""Ollama's inference routes: ``/api/generate``, ``/api/chat``, ``/api/embed``,
``/api/embeddings`` (legacy) and ``/api/ps``. Field-for-field as Ollama (durations in ns)."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from registry import errors
from registry.modelserver.api.errors import read_json
from registry.modelserver.api.inference import (
    Prepared,
    check_format,
    completion_events,
    created_at,
    durations,
    model_template,
    normalize,
    prepare,
    render_pool_ctx,
    render_prompt,
    scheduler_of,
)
from registry.modelserver.api.routes.ollama_models import model_name_field
from registry.modelserver.api.streaming import respond_ndjson
from registry.modelserver.prompt import parse_tool_calls, tool_names
from registry.modelserver.prompt.chat import PromptTemplate

log = logging.getLogger(__name__)

__all__ = ["add_routes", "chat_stream", "check_dimensions", "check_tools", "generate_stream"]


def _field(body: dict[str, Any], key: str, kind: type | tuple[type, ...], default: Any = None) -> Any:
    value = body.get(key, default)
    if value is not None and not isinstance(value, kind):
        names = {str: "string", bool: "boolean", list: "array", dict: "object"}
        kind_name = names.get(kind, "value") if isinstance(kind, type) else "value"
        raise errors.InvalidInput(f"invalid value for field {key!r}: expected {kind_name}")
    return value


def _merge_generate(merged: dict[str, Any], event: dict[str, Any]) -> None:
    text = merged.get("response", "") + event.get("response", "")
    merged.update(event)
    merged["response"] = text


def _merge_chat(merged: dict[str, Any], event: dict[str, Any]) -> None:
    message = merged.get("message") or {"role": "assistant", "content": ""}
    new = event.get("message") or {}
    content = message.get("content", "") + new.get("content", "")
    calls = (message.get("tool_calls") or []) + (new.get("tool_calls") or [])
    merged.update(event)
    merged["message"] = {"role": "assistant", "content": content}
    if calls:
        merged["message"]["tool_calls"] = calls


async def _load_only(
    request: web.Request, prepared: Prepared, extra: dict[str, Any]
) -> AsyncIterator[dict[str, Any]]:
    scheduler = scheduler_of(request)
    if prepared.keep_alive == 0:
        await scheduler.expire(prepared.spec.load.model)
        yield {
            "model": prepared.name,
            "created_at": created_at(),
            **extra,
            "done": True,
            "done_reason": "unload",
        }
        return
    async with scheduler.lease(prepared.spec, prepared.keep_alive):
        pass
    yield {"model": prepared.name, "created_at": created_at(), **extra, "done": True, "done_reason": "load"}


async def generate_stream(
    request: web.Request, body: dict[str, Any], prepared: Prepared
) -> AsyncIterator[dict[str, Any]]:
    """Events of ``/api/generate`` for a validated body."""
    started = time.perf_counter()
    prompt = _field(body, "prompt", str, "")
    raw = bool(_field(body, "raw", bool, False))
    context = _field(body, "context", list) or []
    fmt = check_format(body.get("format"))
    if _field(body, "images", list):
        if not prepared.info.projector_paths:
            raise errors.InvalidInput(
                f"model '{prepared.name}' does not support images: it has no vision projector"
            )
        raise errors.Unsupported("images are not supported by this server yet")
    if not prompt:
        async for event in _load_only(request, prepared, {"response": ""}):
            yield event
        return
    system = _field(body, "system", str) or prepared.info.system
    suffix = _field(body, "suffix", str, "")
    template_src = _field(body, "template", str)
    text = prompt
    if not raw and template_src:  # a request's own template: rendered before a runner is needed
        text = await render_prompt(
            request,
            lambda: PromptTemplate.from_go(template_src).render_generate(
                prompt, system=system, suffix=suffix
            ),
        )
    async with scheduler_of(request).lease(prepared.spec, prepared.keep_alive) as lease:
        if not raw:
            if not template_src:
                text = await render_prompt(
                    request,
                    lambda: model_template(prepared, lease).render_generate(
                        prompt, system=system, suffix=suffix
                    ),
                )
            if context:
                detok = await lease.runner.call("/detokenize", {"tokens": context})
                text = str(detok.get("content", "")) + text
        async for event in completion_events(
            request, lease, text, prepared.options, fmt, want_context=not raw
        ):
            if event.get("done"):
                final = {
                    "model": prepared.name,
                    "created_at": created_at(),
                    "response": "",
                    "done": True,
                    "done_reason": event.get("done_reason", "stop"),
                }
                if not raw:
                    final["context"] = event.get("context", [])
                final.update(durations(started, lease, event))
                yield final
            else:
                yield {
                    "model": prepared.name,
                    "created_at": created_at(),
                    "response": event["content"],
                    "done": False,
                }


async def generate(request: web.Request) -> web.StreamResponse:
    """``POST /api/generate``."""
    body = await read_json(request)
    text, name = model_name_field(body)
    if body.get("raw") and (body.get("template") or body.get("system") or body.get("context")):
        raise errors.InvalidInput("raw mode does not support template, system, or context")
    _field(body, "prompt", str)
    prepared = await prepare(request, body, text, name)
    stream = _field(body, "stream", bool, True) is not False
    return await respond_ndjson(
        request, generate_stream(request, body, prepared), stream=stream, merge=_merge_generate
    )


def _check_tool_calls(calls: Any, where: str) -> None:
    if not isinstance(calls, list):
        raise errors.InvalidInput(f"{where}: tool_calls must be an array")
    for call in calls:
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            raise errors.InvalidInput(f'{where}: each tool call needs a "function" with a string "name"')
        if not isinstance(function.get("arguments", {}), dict):
            raise errors.InvalidInput(f"{where}: tool call arguments must be an object")


def _check_messages(messages: Any) -> list[dict[str, Any]]:
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


def check_dimensions(dimensions: Any) -> int | None:
    """``dimensions`` of an embedding request: a positive integer or absent. Raises InvalidInput."""
    if dimensions is not None and (
        not isinstance(dimensions, int) or isinstance(dimensions, bool) or dimensions < 1
    ):
        raise errors.InvalidInput("dimensions must be a positive integer")
    return dimensions


def chat_messages(prepared: Prepared, request_messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The model's MESSAGE history plus the request's, with the model's SYSTEM prepended when the
    conversation has no system message first (Ollama's rule)."""
    messages = [*prepared.info.messages, *request_messages]
    if prepared.info.system and (not messages or messages[0].get("role") != "system"):
        messages.insert(0, {"role": "system", "content": prepared.info.system})
    return messages


async def chat_stream(
    request: web.Request, body: dict[str, Any], prepared: Prepared, messages: list[dict[str, Any]]
) -> AsyncIterator[dict[str, Any]]:
    """Events of ``/api/chat`` for validated messages. With ``tools`` the reply is held back until
    it is complete, then sent with any parsed ``tool_calls``."""
    started = time.perf_counter()
    tools = check_tools(body.get("tools"))
    fmt = check_format(body.get("format"))
    if any(m.get("images") for m in messages):
        if not prepared.info.projector_paths:
            raise errors.InvalidInput(
                f"model '{prepared.name}' does not support images: it has no vision projector"
            )
        raise errors.Unsupported("images are not supported by this server yet")
    if not messages:
        async for event in _load_only(request, prepared, {"message": {"role": "assistant", "content": ""}}):
            yield event
        return
    async with scheduler_of(request).lease(prepared.spec, prepared.keep_alive) as lease:
        conversation = chat_messages(prepared, messages)
        prompt = await render_prompt(
            request, lambda: model_template(prepared, lease).render_chat(conversation, tools)
        )
        held: list[str] = []
        async for event in completion_events(request, lease, prompt, prepared.options, fmt):
            if not event.get("done"):
                if tools:
                    held.append(event["content"])
                    continue
                yield _chat_chunk(prepared.name, {"role": "assistant", "content": event["content"]})
                continue
            if tools:
                calls, content = parse_tool_calls("".join(held), tool_names(tools))
                message: dict[str, Any] = {"role": "assistant", "content": content}
                if calls:
                    message["tool_calls"] = calls
                yield _chat_chunk(prepared.name, message)
            final = _chat_chunk(prepared.name, {"role": "assistant", "content": ""})
            final.update(
                done=True, done_reason=event.get("done_reason", "stop"), **durations(started, lease, event)
            )
            yield final


def _chat_chunk(model: str, message: dict[str, Any]) -> dict[str, Any]:
    return {"model": model, "created_at": created_at(), "message": message, "done": False}


async def chat(request: web.Request) -> web.StreamResponse:
    """``POST /api/chat``."""
    body = await read_json(request)
    text, name = model_name_field(body)
    messages = _check_messages(body.get("messages"))
    prepared = await prepare(request, body, text, name)
    stream = _field(body, "stream", bool, True) is not False
    return await respond_ndjson(
        request, chat_stream(request, body, prepared, messages), stream=stream, merge=_merge_chat
    )


async def embed_inputs(
    request: web.Request, prepared: Prepared, inputs: list[str], *, truncate: bool, dimensions: int | None
) -> tuple[list[list[float]], int, float]:
    """Normalised embeddings of ``inputs``; returns ``(vectors, prompt_tokens, load_seconds)``."""
    if not inputs:
        return [], 0, 0.0
    vectors: list[list[float]] = []
    count = 0
    async with scheduler_of(request).lease(prepared.spec, prepared.keep_alive) as lease:
        for text in inputs:
            result = await lease.runner.call("/embedding", {"content": text, "truncate": truncate})
            vectors.append(normalize([float(v) for v in result["embedding"]], dimensions))
            count += int(result.get("prompt_eval_count", 0))
        return vectors, count, lease.load_duration


def embed_input_list(value: Any) -> list[str]:
    """``input``: a string or a list of strings. Raises InvalidInput."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    raise errors.InvalidInput("invalid input type: expected a string or a list of strings")


async def embed(request: web.Request) -> web.Response:
    """``POST /api/embed``."""
    started = time.perf_counter()
    body = await read_json(request)
    text, name = model_name_field(body)
    inputs = embed_input_list(body.get("input"))
    dimensions = check_dimensions(body.get("dimensions"))
    prepared = await prepare(request, body, text, name)
    truncate = _field(body, "truncate", bool, True) is not False
    vectors, count, load = await embed_inputs(
        request, prepared, inputs, truncate=truncate, dimensions=dimensions
    )
    return web.json_response(
        {
            "model": text,
            "embeddings": vectors,
            "total_duration": int((time.perf_counter() - started) * 1e9),
            "load_duration": int(load * 1e9),
            "prompt_eval_count": count,
        }
    )


async def embeddings(request: web.Request) -> web.Response:
    """``POST /api/embeddings`` (legacy): one vector, not normalised; an empty prompt loads."""
    body = await read_json(request)
    text, name = model_name_field(body)
    prompt = _field(body, "prompt", str, "")
    prepared = await prepare(request, body, text, name)
    async with scheduler_of(request).lease(prepared.spec, prepared.keep_alive) as lease:
        if not prompt:
            return web.json_response({"embedding": []})
        result = await lease.runner.call("/embedding", {"content": prompt, "truncate": True})
    return web.json_response({"embedding": result["embedding"]})


async def ps(request: web.Request) -> web.Response:
    """``GET /api/ps``."""
    return web.json_response({"models": scheduler_of(request).running()})


def add_routes(app: web.Application) -> None:
    """Register this module's routes (and the thread pool that renders their prompts)."""
    app.cleanup_ctx.append(render_pool_ctx)
    app.router.add_post("/api/generate", generate)
    app.router.add_post("/api/chat", chat)
    app.router.add_post("/api/embed", embed)
    app.router.add_post("/api/embeddings", embeddings)
    app.router.add_get("/api/ps", ps)
