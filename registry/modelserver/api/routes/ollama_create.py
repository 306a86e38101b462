"""``HEAD|POST /api/blobs/:digest`` (upload a file the way Ollama's client does) and ``POST /api/create``.

Uploads stream into the store in constant memory (hashed on the way in; published only when the
digest matches). ``/api/create`` streams the creator's progress as NDJSON, or answers once with
``stream: false``. A ``from`` model the library lacks is pulled first (as Ollama does). The creator
runs in a worker thread; if the client goes away it is closed, which undoes whatever it had
half-created.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncGenerator, AsyncIterator, Generator
from typing import Any

from aiohttp import web

from registry import errors
from registry.modelserver.api import keys
from registry.modelserver.api.errors import read_json
from registry.modelserver.api.model_lookup import model_name_field
from registry.modelserver.api.streaming import respond_ndjson
from registry.modelserver.creator import CreateRequest, create_model
from registry.oci.digest import Digest
from registry.oci.name import ModelName
from registry.remote.options import TransferOptions
from registry.remote.pull import pull_model
from registry.store.library import Library
from registry.store.library.progress import Progress

__all__ = ["add_routes"]

_WRITE_BATCH = 4 << 20
_DONE = object()


def _digest(request: web.Request) -> Digest:
    return Digest.parse(request.match_info["digest"])


async def head_blob(request: web.Request) -> web.Response:
    """``HEAD /api/blobs/:digest``: 200 when the library has the blob, else 404."""
    library = request.app[keys.LIBRARY]
    present = await asyncio.to_thread(library.has_blob, _digest(request))
    return web.Response(status=200 if present else 404)


async def _receive(library: Library, request: web.Request, digest: Digest) -> None:
    writer = library.blobs.writer(digest)
    try:
        pending = bytearray()
        async for chunk in request.content.iter_chunked(1 << 20):
            pending += chunk
            if len(pending) >= _WRITE_BATCH:
                await asyncio.to_thread(writer.write, bytes(pending))
                pending.clear()
        if pending:
            await asyncio.to_thread(writer.write, bytes(pending))
        await asyncio.to_thread(library.commit, writer)
    except BaseException:
        writer.abort()
        raise


async def post_blob(request: web.Request) -> web.Response:
    """``POST /api/blobs/:digest``: 201 when stored, 200 when already present, 400 on a mismatch
    ("digest mismatch: expected ..., got ..."; nothing is stored)."""
    library = request.app[keys.LIBRARY]
    digest = _digest(request)
    if await asyncio.to_thread(library.has_blob, digest):
        return web.Response(status=200)
    await _receive(library, request, digest)
    return web.Response(status=201)


async def _in_thread(events: Generator[Progress, None, None]) -> AsyncGenerator[dict[str, Any], None]:
    """Run a blocking generator in its own thread; closing this iterator closes the generator there.

    The thread hands events over through a bounded asyncio queue (the creator runs at most a step
    ahead) and signals its end through a future, so no executor thread waits on a create that may
    take minutes (quantizing): the server's default executor stays free for catalog work.
    """
    loop = asyncio.get_running_loop()
    out: asyncio.Queue[object] = asyncio.Queue(maxsize=2)
    stop = threading.Event()
    finished: asyncio.Future[None] = loop.create_future()

    def put(item: object) -> None:
        asyncio.run_coroutine_threadsafe(out.put(item), loop).result()

    def pump() -> None:
        try:
            for event in events:
                if stop.is_set():
                    break
                put(event)
            if not stop.is_set():
                put(_DONE)
        except BaseException as err:
            if not stop.is_set():
                put(err)
        finally:
            events.close()
            with contextlib.suppress(RuntimeError):  # the loop is already closed
                loop.call_soon_threadsafe(finished.set_result, None)

    worker = threading.Thread(target=pump, name="create", daemon=True)
    worker.start()
    try:
        while True:
            item = await out.get()
            if item is _DONE:
                break
            if isinstance(item, BaseException):
                raise item
            assert isinstance(item, Progress)
            yield item.to_json()
    finally:
        stop.set()
        while not out.empty():  # unblock a pending put; the thread then sees ``stop``
            out.get_nowait()
        await asyncio.shield(finished)


async def _pull_missing_base(
    request: web.Request, create_request: CreateRequest
) -> AsyncIterator[dict[str, Any]]:
    """Pull the ``from`` model when the library lacks it (as Ollama does), streaming pull progress
    (its final ``success`` is left out: the create goes on)."""
    if not create_request.from_ or create_request.files:
        return
    library = request.app[keys.LIBRARY]
    base = ModelName.parse(create_request.from_)
    if await asyncio.to_thread(library.find_model, base) is not None:
        return
    options = request.app.get(keys.TRANSFER_OPTIONS) or TransferOptions()
    async for event in pull_model(
        library, base, options=options, prune=not request.app[keys.SETTINGS].noprune
    ):
        if event.status != "success":
            yield event.to_json()


async def _create_events(
    request: web.Request, name: ModelName, create_request: CreateRequest
) -> AsyncGenerator[dict[str, Any], None]:
    async for event in _pull_missing_base(request, create_request):
        yield event
    inner = _in_thread(create_model(request.app[keys.LIBRARY], name, create_request))
    try:
        async for event in inner:
            yield event
    finally:
        await inner.aclose()


async def create(request: web.Request) -> web.StreamResponse:
    """``POST /api/create`` (Ollama's current structured body; a raw ``modelfile`` is refused)."""
    body = await read_json(request)
    _, name = model_name_field(body)
    if "modelfile" in body and not body.get("files") and not body.get("from"):
        raise errors.InvalidInput("the 'modelfile' field is no longer supported: send 'from' and 'files'")
    create_request = CreateRequest.from_json(body)
    events = _create_events(request, name, create_request)
    try:
        return await respond_ndjson(request, events, stream=body.get("stream", True) is not False)
    finally:
        await events.aclose()  # a client that went away stops the creation (and undoes it)


def add_routes(app: web.Application) -> None:
    """Register this module's routes."""
    app.router.add_route("HEAD", "/api/blobs/{digest}", head_blob)
    app.router.add_post("/api/blobs/{digest}", post_blob)
    app.router.add_post("/api/create", create)
