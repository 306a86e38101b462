"""Domain errors -> Ollama's ``{"error": "..."}`` with Ollama's statuses. The one mapping site.

Client mistakes are 4xx with the domain error's message; anything unexpected is a 500 with a
generic message (and is logged: a 500 is a bug).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from registry import errors
from registry.modelserver.api.json_body import decode_json_object

__all__ = ["error_middleware", "error_response", "read_json", "status_for"]

log = logging.getLogger(__name__)

_STATUS: tuple[tuple[type[errors.OllamaPyError], int], ...] = (
    (errors.InvalidInput, 400),
    (errors.DigestMismatch, 400),
    (errors.NotFound, 404),
    (errors.Unauthorized, 401),
    (errors.Denied, 403),
    (errors.DiskFull, 507),
    (errors.ServerBusy, 503),
    (errors.RunnerError, 500),
    (errors.TransferError, 502),
    (errors.CatalogError, 503),  # the catalog cannot be read (damaged or lost under a running server)
    (errors.StoreError, 500),
)


def status_for(err: errors.OllamaPyError) -> int:
    """The HTTP status for a domain error."""
    for cls, status in _STATUS:
        if isinstance(err, cls):
            return status
    return 500


def error_response(status: int, message: str) -> web.Response:
    """``{"error": message}`` with ``status``."""
    return web.json_response({"error": message}, status=status)


@web.middleware
async def error_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Turn domain errors and aiohttp's own HTTP errors into Ollama-shaped JSON errors."""
    try:
        return await handler(request)
    except errors.OllamaPyError as err:
        return error_response(status_for(err), str(err))
    except web.HTTPException as exc:
        if exc.status < 400 or exc.content_type == "application/json":
            raise
        message = exc.text if exc.text and not exc.text.startswith(f"{exc.status}:") else exc.reason
        return error_response(exc.status, message.lower() if exc.status == 404 else message)
    except Exception:
        log.exception("unhandled error in %s %s", request.method, request.path)
        return error_response(500, "internal server error")


async def read_json(request: web.Request) -> dict[str, Any]:
    """The request body as a JSON object (decoded by :func:`registry.modelserver.api.json_body.decode_json_object`).

    Raises:
        errors.InvalidInput: empty body, invalid or too deeply nested JSON, or not an object (400).
    """
    return decode_json_object(await request.read())
