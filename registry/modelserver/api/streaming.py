"""NDJSON streaming of Ollama responses (generate, chat, pull, push, create), honouring ``stream: false``,
and the framing-neutral streamer it shares with the OpenAI routes' server-sent events."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

from aiohttp import web

from registry import errors
from registry.modelserver.api.errors import error_response, status_for

__all__ = ["Merge", "keep_last", "respond_ndjson", "stream_events"]

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
    return await stream_events(
        request,
        events,
        headers={"Content-Type": "application/x-ndjson"},
        frame=_ndjson_line,
        error_frame=lambda message: _ndjson_line({"error": message}),
        internal_error=_ndjson_line({"error": "internal server error"}),
        refuse=lambda err: error_response(status_for(err), str(err)),
    )


def _ndjson_line(event: dict[str, Any]) -> bytes:
    return json.dumps(event).encode() + b"\n"


async def stream_events(
    request: web.Request,
    events: AsyncIterator[dict[str, Any]],
    *,
    headers: dict[str, str],
    frame: Callable[[dict[str, Any]], bytes],
    error_frame: Callable[[str], bytes],
    internal_error: bytes,
    refuse: Callable[[errors.OllamaPyError], web.Response],
    trailer: bytes = b"",
) -> web.StreamResponse:
    """Stream ``events``, each as ``frame(event)``, then ``trailer``; the framing is the caller's
    (NDJSON here, server-sent events for the OpenAI routes).

    The response starts with the first event. An ``OllamaPyError`` before it is answered whole by
    ``refuse(err)``; after it, ``error_frame(message)`` is sent and the stream ends normally. Any
    other exception before the first event reaches the error middleware (500); after it, it is
    logged and ``internal_error`` is sent. A client that went away just ends the stream. ``events``
    is closed before this returns, however it ends.
    """
    response = web.StreamResponse(headers=headers)
    started = False
    try:
        try:
            async for event in events:
                if not started:
                    await response.prepare(request)
                    started = True
                await response.write(frame(event))
        except errors.OllamaPyError as err:
            if not started:
                return refuse(err)
            await response.write(error_frame(str(err)))
        except (ConnectionResetError, OSError):
            raise
        except Exception:
            if not started:
                raise  # the error middleware answers 500
            log.exception("error while streaming %s", request.path)
            await response.write(internal_error)
        if not started:
            await response.prepare(request)
        if trailer:
            await response.write(trailer)
        await response.write_eof()
    except (ConnectionResetError, OSError):
        pass  # the client went away (aiohttp's ClientConnectionResetError is a ConnectionResetError)
    finally:
        await _stop(request, events)
    return response


async def _stop(request: web.Request, events: AsyncIterator[dict[str, Any]]) -> None:
    """Close ``events`` now (a generation the client left frees its runner slot at once, not when
    the generator is collected); a failure there is one warning line, never a traceback."""
    aclose = getattr(events, "aclose", None)
    if aclose is None:
        return
    try:
        await aclose()
    except Exception as err:  # the stream is over for the client; only the log may hear of it
        log.warning("%s: error while stopping the stream: %s", request.path, err)
