"""``POST /api/pull`` and ``POST /api/push``: progress streamed as NDJSON (or the last event with
``stream: false``), exactly Ollama's ``ProgressResponse`` objects.

Transfer options (credentials, CA bundle, rate limit) come from the application under
:data:`registry.modelserver.api.keys.TRANSFER_OPTIONS` when the composition root sets it; otherwise defaults apply.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from registry import errors
from registry.modelserver.api import keys
from registry.modelserver.api.errors import read_json
from registry.modelserver.api.model_lookup import model_name_field
from registry.modelserver.api.streaming import respond_ndjson
from registry.remote.options import TransferOptions
from registry.remote.pull import pull_model
from registry.remote.push import push_model
from registry.store.library import Progress

__all__ = ["add_routes"]


def _flag(body: dict[str, Any], key: str, default: bool) -> bool:
    value = body.get(key, default)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise errors.InvalidInput(f"{key} must be true or false")
    return value


async def _as_json(events: AsyncIterator[Progress]) -> AsyncIterator[dict[str, Any]]:
    async for event in events:
        yield event.to_json()


async def pull(request: web.Request) -> web.StreamResponse:
    """``POST /api/pull`` ``{model, insecure?, stream?}``."""
    body = await read_json(request)
    _, name = model_name_field(body)
    options = request.app.get(keys.TRANSFER_OPTIONS) or TransferOptions()
    prune = not request.app[keys.SETTINGS].noprune
    events = pull_model(
        request.app[keys.LIBRARY], name, insecure=_flag(body, "insecure", False), options=options, prune=prune
    )
    return await respond_ndjson(request, _as_json(events), stream=_flag(body, "stream", True))


async def push(request: web.Request) -> web.StreamResponse:
    """``POST /api/push`` ``{model, insecure?, stream?}``."""
    body = await read_json(request)
    _, name = model_name_field(body)
    options = request.app.get(keys.TRANSFER_OPTIONS) or TransferOptions()
    events = push_model(
        request.app[keys.LIBRARY], name, insecure=_flag(body, "insecure", False), options=options
    )
    return await respond_ndjson(request, _as_json(events), stream=_flag(body, "stream", True))


def add_routes(app: web.Application) -> None:
    """Register this module's routes."""
    app.router.add_post("/api/pull", pull)
    app.router.add_post("/api/push", push)
