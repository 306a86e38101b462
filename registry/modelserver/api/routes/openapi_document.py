"""``GET /api/openapi.json``: the model server's OpenAPI 3.1 description
(:mod:`registry.modelserver.api.openapi_spec`), with the server's version."""

from __future__ import annotations

from aiohttp import web

from registry.modelserver.api.openapi_spec import openapi_document
from registry.version import VERSION

__all__ = ["add_routes"]


async def openapi(_request: web.Request) -> web.Response:
    """``GET /api/openapi.json``."""
    return web.json_response(openapi_document(VERSION))


def add_routes(app: web.Application) -> None:
    """Register this module's routes."""
    app.router.add_get("/api/openapi.json", openapi)
