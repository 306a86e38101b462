"""Ollama's inference routes: ``/api/generate``, ``/api/chat``, ``/api/embed``,
``/api/embeddings`` (legacy) and ``/api/ps``. Field-for-field as Ollama (durations in ns)."""

from __future__ import annotations

import logging
import time
from typing import Any

from aiohttp import web

from registry import errors
from registry.modelserver.api.chat_request import chat_stream, check_messages
from registry.modelserver.api.embed_request import check_dimensions, embed_input_list, embed_inputs
from registry.modelserver.api.errors import read_json
from registry.modelserver.api.generate_request import generate_stream
from registry.modelserver.api.inference import check_logprobs, prepare, render_pool_ctx, scheduler_of
from registry.modelserver.api.json_body import body_field
from registry.modelserver.api.model_lookup import model_name_field
from registry.modelserver.api.streaming import respond_ndjson

log = logging.getLogger(__name__)

__all__ = ["add_routes"]


def _merge_generate(merged: dict[str, Any], event: dict[str, Any]) -> None:
    """``stream: false``: the response, thinking, tool calls (a harmony reply's) and logprobs
    concatenated (as Ollama)."""
    text = merged.get("response", "") + event.get("response", "")
    thinking = merged.get("thinking", "") + event.get("thinking", "")
    calls = (merged.get("tool_calls") or []) + (event.get("tool_calls") or [])
    logprobs = (merged.get("logprobs") or []) + (event.get("logprobs") or [])
    merged.update(event)
    merged["response"] = text
    for key, value in (("thinking", thinking), ("tool_calls", calls), ("logprobs", logprobs)):
        if value:
            merged[key] = value


def _merge_chat(merged: dict[str, Any], event: dict[str, Any]) -> None:
    """``stream: false``: content, thinking, tool calls and logprobs concatenated (as Ollama)."""
    message = merged.get("message") or {"role": "assistant", "content": ""}
    new = event.get("message") or {}
    content = message.get("content", "") + new.get("content", "")
    thinking = message.get("thinking", "") + new.get("thinking", "")
    calls = (message.get("tool_calls") or []) + (new.get("tool_calls") or [])
    logprobs = (merged.get("logprobs") or []) + (event.get("logprobs") or [])
    merged.update(event)
    merged["message"] = {"role": "assistant", "content": content}
    if thinking:
        merged["message"]["thinking"] = thinking
    if calls:
        merged["message"]["tool_calls"] = calls
    if logprobs:
        merged["logprobs"] = logprobs


async def generate(request: web.Request) -> web.StreamResponse:
    """``POST /api/generate``."""
    body = await read_json(request)
    text, name = model_name_field(body)
    if body.get("raw") and (body.get("template") or body.get("system") or body.get("context")):
        raise errors.InvalidInput("raw mode does not support template, system, or context")
    body_field(body, "prompt", str)
    check_logprobs(body)  # before the model is looked up, as Ollama
    prepared = await prepare(request, body, text, name)
    stream = body_field(body, "stream", bool, True) is not False
    return await respond_ndjson(
        request, generate_stream(request, body, prepared), stream=stream, merge=_merge_generate
    )


async def chat(request: web.Request) -> web.StreamResponse:
    """``POST /api/chat``."""
    body = await read_json(request)
    text, name = model_name_field(body)
    messages = check_messages(body.get("messages"))
    check_logprobs(body)  # before the model is looked up, as Ollama
    prepared = await prepare(request, body, text, name)
    stream = body_field(body, "stream", bool, True) is not False
    return await respond_ndjson(
        request, chat_stream(request, body, prepared, messages), stream=stream, merge=_merge_chat
    )


async def embed(request: web.Request) -> web.Response:
    """``POST /api/embed``."""
    started = time.perf_counter()
    body = await read_json(request)
    text, name = model_name_field(body)
    inputs = embed_input_list(body.get("input"))
    dimensions = check_dimensions(body.get("dimensions"))
    prepared = await prepare(request, body, text, name)
    truncate = body_field(body, "truncate", bool, True) is not False
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
    prompt = body_field(body, "prompt", str, "")
    prepared = await prepare(request, body, text, name)
    async with scheduler_of(request).lease(prepared.spec) as lease:
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
