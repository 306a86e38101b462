"""NDJSON streaming of Ollama responses (generate, chat, pull, push, create), honouring ``stream: false``."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

from aiohttp import web

from registry import errors
from registry.api.errors import error_response, status_for

__all__ = ["Merge", "keep_last", "respond_ndjson"]

log = logging.getLogger(__name__)

#: Folds one event into the single object a ``stream: false`` answer sends.
Merge = Callable[[dict[str, Any], dict[str, Any]], None]


def keep_last(merged: dict[str, Any], event: dict[str, Any]) -> None:
    """The progress-style merge: the answer is the last event (e.g. ``{"status": "success"}``)."""
    merged.clear()
    merged.update(event)


async def respond_ndjson(
    request: web.Request,
    events: AsyncIterator[dict[str, Any]],
    *,
    stream: bool = True,
    merge: Merge = keep_last,
) -> web.StreamResponse:
    """Send ``events`` as ``application/x-ndjson``, one JSON object per line.

    With ``stream=False`` one JSON object is sent, folded from every event by ``merge`` (an error
    becomes a normal Ollama error response). An error after streaming began is sent as a final
    ``{"error": ...}`` line, as Ollama does; a client that went away just ends the stream.
    """
    if not stream:
        merged: dict[str, Any] = {}
        try:
            async for event in events:
                merge(merged, event)
        except errors.OllamaPyError as err:
            return error_response(status_for(err), str(err))
        return web.json_response(merged)
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
    except (ConnectionResetError, OSError):
        return response  # the client went away
    except Exception:
        if not started:
            raise  # the error middleware answers 500
        log.exception("error while streaming %s", request.path)
        await response.write(json.dumps({"error": "internal server error"}).encode() + b"\n")
    if not started:
        await response.prepare(request)
    await response.write_eof()
    return response
