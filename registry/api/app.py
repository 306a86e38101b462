"""The model server application: one ``web.Application`` with typed keys, the error middleware and
the route modules below. Each route module has ``add_routes(app)``.
"""

from __future__ import annotations

import importlib

from aiohttp import web

from registry.api import keys
from registry.api.errors import error_middleware
from registry.config import Settings
from registry.library import Library

__all__ = ["ROUTE_MODULES", "build_app"]

#: Route modules, each with ``add_routes(app: web.Application) -> None``.
ROUTE_MODULES: tuple[str, ...] = (
    "registry.api.model_routes",
    "registry.api.create_routes",
    "registry.api.transfer_routes",
)


def build_app(settings: Settings, library: Library) -> web.Application:
    """The application, ready for ``web.AppRunner``. The caller owns ``library`` (closes it)."""
    app = web.Application(middlewares=[error_middleware], client_max_size=64 * 1024 * 1024)
    app[keys.SETTINGS] = settings
    app[keys.LIBRARY] = library
    for module_name in ROUTE_MODULES:
        importlib.import_module(module_name).add_routes(app)
    return app
