"""The runner's HTTP server (aiohttp on a unix socket); the protocol is in :mod:`runner.protocol`.

The server answers ``/health`` at once while the model loads in a worker thread; the other routes
answer 503 until the engine is ready. Handler cancellation is on: when the model server closes a
completion's connection the handler is cancelled and the job's slot is freed.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import web

from runner.engine import MAX_TOKEN_BYTES, Engine
from runner.engine_model import LoadedModel
from runner.protocol import HEALTH_OK, CompletionRequest
from runner.state import RunnerState

__all__ = ["build_app"]


STATE: web.AppKey[RunnerState] = web.AppKey("runner_state", RunnerState)


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def _ready(request: web.Request) -> tuple[LoadedModel, Engine]:
    state = request.app[STATE]
    if state.engine is None or state.model is None:
        raise web.HTTPServiceUnavailable(
            text=json.dumps({"error": state.error or "model is loading"}), content_type="application/json"
        )
    return state.model, state.engine


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError as err:
        raise web.HTTPBadRequest(
            text=json.dumps({"error": f"invalid JSON: {err}"}), content_type="application/json"
        ) from err
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(
            text=json.dumps({"error": "expected an object"}), content_type="application/json"
        )
    return body


async def health(request: web.Request) -> web.Response:
    """``GET /health``."""
    state = request.app[STATE]
    data: dict[str, Any] = {"status": state.status, "progress": state.progress}
    if state.error:
        data["error"] = state.error
    if state.status == HEALTH_OK:
        data["info"] = state.info
    return web.json_response(data)


async def completion(request: web.Request) -> web.StreamResponse:
    """``POST /completion``: NDJSON events until done; disconnecting cancels the job."""
    _, engine = _ready(request)
    body = await _body(request)
    loop = asyncio.get_running_loop()
    events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    def emit(event: dict[str, Any]) -> None:
        loop.call_soon_threadsafe(events.put_nowait, event)

    try:
        req = CompletionRequest.from_json(body)
        job = await asyncio.to_thread(engine.submit, req, emit)
    except (ValueError, TypeError) as err:
        return _error(400, str(err))
    try:
        response = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
        await response.prepare(request)
        finished = False
        while not finished:
            batch = [await events.get()]
            while not events.empty():
                batch.append(events.get_nowait())
            finished = any("done" in e or "error" in e for e in batch)
            await response.write(b"".join(json.dumps(e).encode() + b"\n" for e in batch))
        await response.write_eof()
        return response
    finally:
        job.cancel()


async def embedding(request: web.Request) -> web.Response:
    """``POST /embedding``."""
    model, engine = _ready(request)
    body = await _body(request)
    content = body.get("content", "")
    if not isinstance(content, str):
        return _error(400, "content must be a string")
    limit = engine.num_ctx
    truncate = bool(body.get("truncate", True))
    if len(content) > limit * MAX_TOKEN_BYTES // 4 and len(content.encode()) > limit * MAX_TOKEN_BYTES:
        if not truncate:  # more than ``limit`` tokens for sure (see Engine.tokenize_bounded)
            return _error(400, "the input length exceeds the context length")
        content = content[: limit * MAX_TOKEN_BYTES]
    tokens = await asyncio.to_thread(model.tokenize, content)
    if len(tokens) > limit:
        if not truncate:
            return _error(400, "the input length exceeds the context length")
        tokens = tokens[:limit]
    try:
        vector = await asyncio.to_thread(
            engine.call, lambda: model.embed(tokens, limit, engine.threads_batch)
        )
    except RuntimeError as err:
        return _error(500, str(err))
    return web.json_response({"embedding": vector, "prompt_eval_count": len(tokens)})


async def tokenize(request: web.Request) -> web.Response:
    """``POST /tokenize``."""
    model, _ = _ready(request)
    body = await _body(request)
    content = body.get("content", "")
    if not isinstance(content, str):
        return _error(400, "content must be a string")
    add_special = bool(body.get("add_special", False))
    tokens = await asyncio.to_thread(model.tokenize, content, add_special=add_special)
    return web.json_response({"tokens": tokens})


async def detokenize(request: web.Request) -> web.Response:
    """``POST /detokenize``."""
    model, _ = _ready(request)
    body = await _body(request)
    tokens = body.get("tokens", [])
    if not isinstance(tokens, list) or not all(isinstance(t, int) and 0 <= t < model.n_vocab for t in tokens):
        return _error(400, "tokens must be a list of token ids")
    return web.json_response({"content": await asyncio.to_thread(model.detokenize, tokens)})


def build_app(state: RunnerState) -> web.Application:
    """The runner's application over ``state``."""
    app = web.Application(client_max_size=256 * 1024 * 1024)
    app[STATE] = state
    app.router.add_get("/health", health)
    app.router.add_post("/completion", completion)
    app.router.add_post("/embedding", embedding)
    app.router.add_post("/tokenize", tokenize)
    app.router.add_post("/detokenize", detokenize)
    return app
