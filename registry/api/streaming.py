"""NDJSON streaming of progress-style responses (pull, push, create), honouring ``stream: false``."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from registry import errors
from registry.api.errors import error_response, status_for

__all__ = ["respond_ndjson"]


async def respond_ndjson(
    request: web.Request, events: AsyncIterator[dict[str, Any]], *, stream: bool = True
) -> web.StreamResponse:
    """Send ``events`` as ``application/x-ndjson``, one JSON object per line.

    With ``stream=False`` only the last event is sent, as one JSON object (an error becomes a normal
    Ollama error response). An error after streaming began is sent as a final ``{"error": ...}`` line,
    as Ollama does.
    """
    if not stream:
        last: dict[str, Any] = {}
        try:
            async for event in events:
                last = event
        except errors.OllamaPyError as err:
            return error_response(status_for(err), str(err))
        return web.json_response(last)
    response = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
    started = False
    try:
        async for event in events:
            if not started:
                await response.prepare(request)
                started = True
            await response.write(json.dumps(event).encode() + b"\n")
    except errors.OllamaPyError as err:
        if not started:
            return error_response(status_for(err), str(err))
        await response.write(json.dumps({"error": str(err)}).encode() + b"\n")
    if not started:
        await response.prepare(request)
    await response.write_eof()
    return response
