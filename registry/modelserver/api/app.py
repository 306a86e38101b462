"""The model server application: one ``web.Application`` with typed keys, the middlewares (the
access log when ``OLLAMA_PY_ACCESS_LOG`` is set, the DNS-rebinding host guard, CORS, errors,
outermost first) and the route modules below. Each route module has ``add_routes(app)``.
"""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator, Callable

from aiohttp import web

from registry.access_log import AccessLog
from registry.config import Settings
from registry.modelserver.api import keys
from registry.modelserver.api.cors import cors_middleware, cors_on_prepare
from registry.modelserver.api.errors import error_middleware
from registry.modelserver.api.host_guard import host_guard_middleware
from registry.modelserver.api.server_log import connection_logger
from registry.modelserver.scheduler import ProcessRunners, RunnerFactory, Scheduler, SchedulerConfig
from registry.store.library import Library

__all__ = ["ROUTE_MODULES", "build_app"]

#: Route modules, each with ``add_routes(app: web.Application) -> None``.
ROUTE_MODULES: tuple[str, ...] = (
    "registry.modelserver.api.routes.ollama_models",
    "registry.modelserver.api.routes.ollama_create",
    "registry.modelserver.api.routes.ollama_transfers",
    "registry.modelserver.api.routes.ollama_inference",
    "registry.modelserver.api.routes.openai",
    "registry.modelserver.api.routes.openai_responses",
    "registry.modelserver.api.routes.anthropic_messages",
    "registry.modelserver.api.routes.openapi_document",
)


def build_app(
    settings: Settings, library: Library, *, runners: RunnerFactory | None = None
) -> web.Application:
    """The application, ready for ``web.AppRunner``. The caller owns ``library`` (closes it).

    ``runners`` starts the scheduler's runners (default: real runner processes, with their debug
    log when ``settings.debug`` is set); tests may pass another factory."""
    access_log = AccessLog(settings.access_log) if settings.access_log else None
    app = web.Application(
        middlewares=[
            *([access_log.middleware()] if access_log is not None else []),
            host_guard_middleware(settings.host.host),
            cors_middleware(settings.origins),
            error_middleware,
        ],
        client_max_size=64 * 1024 * 1024,
        handler_args={"logger": connection_logger()},
    )
    app.on_response_prepare.append(cors_on_prepare)
    app[keys.SETTINGS] = settings
    app[keys.LIBRARY] = library
    if runners is None:
        runners = ProcessRunners(verbose=settings.debug > 0)
    app.cleanup_ctx.append(_scheduler_ctx(runners))
    if access_log is not None:
        app.on_cleanup.append(lambda _app: _close(access_log))
    for module_name in ROUTE_MODULES:
        importlib.import_module(module_name).add_routes(app)
    return app


async def _close(access_log: AccessLog) -> None:
    access_log.close()


def _scheduler_ctx(runners: RunnerFactory) -> Callable[[web.Application], AsyncIterator[None]]:
    """The scheduler lives as long as the app; closing the app kills every runner."""

    async def scheduler_ctx(app: web.Application) -> AsyncIterator[None]:
        settings = app[keys.SETTINGS]
        scheduler = Scheduler(
            SchedulerConfig(
                num_parallel=settings.num_parallel,
                memory_limit=settings.memory_limit,
                max_loaded_models=settings.max_loaded_models,
                max_queue=settings.max_queue,
                keep_alive=settings.keep_alive,
                load_timeout=settings.load_timeout,
            ),
            runners,
        )
        app[keys.SCHEDULER] = scheduler
        yield
        await scheduler.close()

    return scheduler_ctx
