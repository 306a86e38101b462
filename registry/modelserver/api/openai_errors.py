"""OpenAI's error shape, shared by the OpenAI route families (``/v1/chat/completions`` and friends,
``/v1/responses``): ``{"error": {"message", "type", "param", "code"}}`` with the status the domain
error maps to (:func:`~registry.modelserver.api.errors.status_for`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from registry import errors
from registry.modelserver.api.errors import status_for

__all__ = ["Handler", "openai_error", "openai_guard"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def openai_error(status: int, message: str) -> web.Response:
    """An OpenAI error response: ``type`` from the status (400, 404, else ``api_error``)."""
    kind = {400: "invalid_request_error", 404: "not_found_error"}.get(status, "api_error")
    body = {"error": {"message": message, "type": kind, "param": None, "code": None}}
    return web.json_response(body, status=status)


def openai_guard(handler: Handler) -> Handler:
    """``handler`` with domain errors answered in OpenAI's shape instead of Ollama's."""

    async def wrapped(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except errors.OllamaPyError as err:
            return openai_error(status_for(err), str(err))

    return wrapped
