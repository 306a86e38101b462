"""Where the model commands act: one store for every command.

When a server answers ``HEAD /`` at ``OLLAMA_HOST``, ``list``, ``show``, ``cp``, ``rm``, ``create``,
``pull``, ``push``, ``ps``, ``stop`` and ``run`` go through its HTTP API, as Ollama's CLI does
(:class:`ServerStore`); with no server they act in process on ``OLLAMA_MODELS``
(:class:`LocalStore`). Both answer in the API's JSON shapes, so each command renders one way and
prints the same in both modes. Errors name the model as the user wrote it
(``model 'x' not found``) in both modes.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import TYPE_CHECKING, Any, Protocol

from registry.cli.api_client import ApiClient, ApiError, ServerUnreachable
from registry.errors import ModelNotFound

if TYPE_CHECKING:
    from registry.config import Settings
    from registry.remote.options import TransferOptions
    from registry.store.library import Library

__all__ = ["LocalStore", "ModelStore", "ServerStore", "find_server", "not_found"]

#: Seconds to wait for a server's ``HEAD /`` before deciding none is there.
PROBE_TIMEOUT = 2.0


def not_found(model: str) -> ModelNotFound:
    """``model 'x' not found``, as the server's API says it."""
    return ModelNotFound(f"model '{model}' not found")


def find_server(settings: Settings) -> str | None:
    """The base URL of the server at ``OLLAMA_HOST`` when one answers, else None."""
    try:
        ApiClient(settings.host.url, timeout=PROBE_TIMEOUT).heartbeat()
    except (ServerUnreachable, ApiError, OSError):
        return None
    return settings.host.url


class ModelStore(Protocol):
    """The operations the model commands need, in the API's JSON shapes."""

    #: Where the models are, in words: "the server at URL" or "the store at PATH".
    where: str
    #: True when this is what a user gets with no settings (server or store at the default place).
    is_default: bool
    #: The server's base URL, or None for the local store.
    server_url: str | None

    def tags(self) -> list[dict[str, Any]]:
        """``/api/tags``'s ``models``, newest first."""
        ...

    def show(self, model: str, *, verbose: bool = False) -> dict[str, Any]:
        """``/api/show`` (``verbose``: whole metadata arrays and the tensors). Raises ModelNotFound."""
        ...

    def copy(self, source: str, destination: str) -> None:
        """``/api/copy``. Raises ModelNotFound."""
        ...

    def delete(self, model: str) -> None:
        """Unload (when served) and ``/api/delete``. Raises ModelNotFound."""
        ...

    def running(self) -> list[dict[str, Any]]:
        """``/api/ps``'s ``models`` (none without a server)."""
        ...

    def stop(self, model: str) -> None:
        """Unload a model now. Raises ModelNotFound for a model the store does not have."""
        ...

    def transfer(
        self, kind: str, model: str, *, insecure: bool, options: Callable[[], TransferOptions]
    ) -> Iterator[dict[str, Any]]:
        """``/api/pull`` or ``/api/push`` (``kind``) progress events."""
        ...

    def chat_client(self) -> ApiClient:
        """A client of a server over this store, for ``run`` (started in process for the local
        store; it stops when the store is closed)."""
        ...

    def close(self) -> None:
        """Release what was opened."""
        ...


class ServerStore:
    """The models of the server at ``url``, through its API."""

    def __init__(self, url: str, *, is_default: bool) -> None:
        self.server_url: str | None = url
        self.where = f"the server at {url}"
        self.is_default = is_default
        self.client = ApiClient(url)

    def _call(self, model: str, method: str, path: str, body: Any) -> Any:
        try:
            return self.client.call(method, path, body)
        except ApiError as err:
            if err.status == 404:
                raise not_found(model) from None
            raise

    def tags(self) -> list[dict[str, Any]]:
        return list(self.client.call("GET", "/api/tags")["models"])

    def show(self, model: str, *, verbose: bool = False) -> dict[str, Any]:
        body: dict[str, Any] = {"model": model, "verbose": True} if verbose else {"model": model}
        return dict(self._call(model, "POST", "/api/show", body))

    def copy(self, source: str, destination: str) -> None:
        self._call(source, "POST", "/api/copy", {"source": source, "destination": destination})

    def delete(self, model: str) -> None:
        self.show(model)  # every name is checked before a model is unloaded
        try:
            self.stop(model)
        except ApiError:
            pass  # a model the server cannot load can still be deleted
        self._call(model, "DELETE", "/api/delete", {"model": model})

    def running(self) -> list[dict[str, Any]]:
        return list(self.client.call("GET", "/api/ps")["models"])

    def stop(self, model: str) -> None:
        self._call(model, "POST", "/api/generate", {"model": model, "keep_alive": 0, "stream": False})

    def transfer(
        self, kind: str, model: str, *, insecure: bool, options: Callable[[], TransferOptions]
    ) -> Iterator[dict[str, Any]]:
        request: dict[str, Any] = {"model": model, **({"insecure": True} if insecure else {})}
        return self.client.stream(f"/api/{kind}", request)

    def chat_client(self) -> ApiClient:
        return self.client

    def close(self) -> None:
        pass


class LocalStore:
    """The models of the store at ``settings.models_dir``, in process."""

    def __init__(self, settings: Settings, library: Callable[[], Library], *, is_default: bool) -> None:
        self.settings = settings
        self._library = library
        self.server_url: str | None = None
        self.where = f"the store at {settings.models_dir} (no server at {settings.host.url})"
        self.is_default = is_default
        self._embedded: EmbeddedServer | None = None

    def _name(self, model: str) -> Any:
        from registry.oci.name import ModelName

        return ModelName.parse(model)

    def tags(self) -> list[dict[str, Any]]:
        from registry.store.library.model_info import list_entry

        return [list_entry(row) for row in self._rows()]

    def _rows(self) -> list[Any]:
        """The stdlib fast path when the catalog is local SQLite (see ``catalog.sqlite_reader``)."""
        if self.settings.database_url is None:
            from registry.store.blobs.layout import StoreLayout
            from registry.store.catalog.sqlite_reader import read_models

            rows = read_models(StoreLayout(self.settings.models_dir.expanduser().resolve()).catalog_path)
            if rows:  # no models: the library checks whether the catalog was lost (catalog_guard)
                return rows
        return self._library().list_models()

    def show(self, model: str, *, verbose: bool = False) -> dict[str, Any]:
        from registry.store.library.model_info import show_response

        library = self._library()
        try:
            info = library.model_info(self._name(model))
        except ModelNotFound:
            raise not_found(model) from None
        response = show_response(info, verbose=verbose)
        from registry.modelserver.api.inference import model_capabilities

        response["capabilities"] = model_capabilities(
            info, response.get("capabilities")
        )  # as the server's /api/show
        compat = library.compat_status(info)
        if compat:
            response["compatibility"] = compat
        return response

    def copy(self, source: str, destination: str) -> None:
        try:
            self._library().copy(self._name(source), self._name(destination))
        except ModelNotFound:
            raise not_found(source) from None

    def delete(self, model: str) -> None:
        try:
            self._library().remove(self._name(model))
        except ModelNotFound:
            raise not_found(model) from None

    def running(self) -> list[dict[str, Any]]:
        return []

    def stop(self, model: str) -> None:
        try:
            self._library().get_model(self._name(model))
        except ModelNotFound:
            raise not_found(model) from None

    def transfer(
        self, kind: str, model: str, *, insecure: bool, options: Callable[[], TransferOptions]
    ) -> Iterator[dict[str, Any]]:
        from registry.remote.pull import pull_model
        from registry.remote.push import push_model

        name = self._name(model)
        if kind == "pull":
            events = pull_model(
                self._library(), name, insecure=insecure, options=options(), prune=not self.settings.noprune
            )
        else:
            events = push_model(self._library(), name, insecure=insecure, options=options())
        return _iterate(events)

    def chat_client(self) -> ApiClient:
        if self._embedded is None:
            self._embedded = EmbeddedServer(self.settings, self._library())
        return ApiClient(self._embedded.url)

    def close(self) -> None:
        if self._embedded is not None:
            self._embedded.stop()
            self._embedded = None


def _iterate(events: AsyncIterator[Any]) -> Iterator[dict[str, Any]]:
    """Drive an async stream of Progress events to the end in a private loop, yielding each as
    ``ProgressResponse`` JSON (errors are raised where the stream raises them)."""
    loop = asyncio.new_event_loop()
    try:
        while True:
            try:
                event = loop.run_until_complete(anext(events))
            except StopAsyncIteration:
                return
            yield event.to_json()
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


class EmbeddedServer:
    """The model server over a library, on an ephemeral loopback port in a thread of this process:
    what ``run`` talks to when no server answers at ``OLLAMA_HOST``. Its runners end with it."""

    def __init__(self, settings: Settings, library: Library) -> None:
        from dataclasses import replace

        from registry.config import HostAddress

        self._settings = replace(settings, host=HostAddress(host="127.0.0.1", port=0))
        self._library = library
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None
        self.url = ""
        self._thread = threading.Thread(target=self._main, name="embedded-model-server", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            raise self._error

    def _main(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._serve())
        self._loop.close()

    async def _serve(self) -> None:
        from aiohttp import web

        from registry.modelserver.api.app import build_app

        self._stop = asyncio.Event()
        try:
            runner = web.AppRunner(build_app(self._settings, self._library), access_log=None)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
        except BaseException as err:  # reported to the caller of __init__
            self._error = err
            self._ready.set()
            return
        port = runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        self._ready.set()
        await self._stop.wait()
        await runner.cleanup()

    def stop(self) -> None:
        """Stop serving and end the runners; returns when done."""
        if self._stop is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
            self._thread.join(60)
