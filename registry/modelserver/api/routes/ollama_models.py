"""Model-management routes over the library: ``/``, ``/api/version``, ``/api/tags``, ``/api/show``,
``/api/copy``, ``/api/delete``. Library calls run in a thread (they touch the disk and database).
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime

from aiohttp import web

from registry import errors
from registry.modelserver.api import keys
from registry.modelserver.api.errors import read_json
from registry.modelserver.api.inference import model_capabilities
from registry.modelserver.api.json_body import body_field
from registry.modelserver.api.model_lookup import model_name_field, model_not_found
from registry.store.library import Library
from registry.store.library.model_info import list_entry, show_response
from registry.version import VERSION

__all__ = ["TAGS_CACHE", "TagsCache", "add_routes"]


async def root(_request: web.Request) -> web.Response:
    """``GET|HEAD /``: the liveness answer clients check."""
    return web.Response(text="Ollama is running")


async def version(_request: web.Request) -> web.Response:
    """``GET /api/version``."""
    return web.json_response({"version": VERSION})


class TagsCache:
    """The encoded ``/api/tags`` body, valid while the catalog's models version is unchanged."""

    def __init__(self) -> None:
        self.version = -1
        self.body = b""

    def get(self, library: Library) -> bytes:
        """The current body (one cheap query when nothing changed). Runs in a worker thread."""
        version = library.models_version()
        if version != self.version:
            tz = datetime.now().astimezone().tzinfo
            rows = library.list_models()
            self.body = json.dumps({"models": [list_entry(r, tz) for r in rows]}).encode()
            self.version = version
        return self.body


TAGS_CACHE: web.AppKey[TagsCache] = web.AppKey("tags_cache", TagsCache)


async def tags(request: web.Request) -> web.Response:
    """``GET /api/tags``: every model, newest first (cached until any model changes)."""
    body = await asyncio.to_thread(request.app[TAGS_CACHE].get, request.app[keys.LIBRARY])
    return web.Response(body=body, content_type="application/json")


async def show(request: web.Request) -> web.Response:
    """``POST /api/show`` (``verbose``: every metadata array whole, and the tensors)."""
    body = await read_json(request)
    text, name = model_name_field(body)
    verbose = body_field(body, "verbose", bool)
    library = request.app[keys.LIBRARY]
    try:
        info = await asyncio.to_thread(library.model_info, name)
    except errors.ModelNotFound:
        raise model_not_found(text) from None
    response = await asyncio.to_thread(show_response, info, verbose=bool(verbose))
    response["capabilities"] = model_capabilities(
        info, response.get("capabilities")
    )  # thinking as Ollama infers it
    compat = await asyncio.to_thread(library.compat_status, info)
    if compat:
        response["compatibility"] = compat
    return web.json_response(response)


async def copy(request: web.Request) -> web.Response:
    """``POST /api/copy`` ``{source, destination}``."""
    body = await read_json(request)
    source_text, source = model_name_field(body, "source")
    _, destination = model_name_field(body, "destination")
    library = request.app[keys.LIBRARY]
    try:
        await asyncio.to_thread(library.copy, source, destination)
    except errors.ModelNotFound:
        raise model_not_found(source_text) from None
    return web.Response(status=200)


async def delete(request: web.Request) -> web.Response:
    """``DELETE /api/delete`` ``{model}``."""
    body = await read_json(request)
    text, name = model_name_field(body)
    library = request.app[keys.LIBRARY]
    try:
        await asyncio.to_thread(library.remove, name)
    except errors.ModelNotFound:
        raise model_not_found(text) from None
    return web.Response(status=200)


def add_routes(app: web.Application) -> None:
    """Register this module's routes."""
    app[TAGS_CACHE] = TagsCache()
    app.router.add_get("/", root)
    app.router.add_get("/api/version", version)
    app.router.add_get("/api/tags", tags)
    app.router.add_post("/api/show", show)
    app.router.add_post("/api/copy", copy)
    app.router.add_delete("/api/delete", delete)
