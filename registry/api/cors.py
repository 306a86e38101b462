"""CORS as Ollama does it: ``OLLAMA_ORIGINS`` added to built-in local origins, wildcards allowed,
preflight (``OPTIONS``) answered with 204."""

from __future__ import annotations

import fnmatch
from collections.abc import Awaitable, Callable, Iterable

from aiohttp import web
from aiohttp.typedefs import Middleware

__all__ = ["DEFAULT_ORIGINS", "cors_middleware"]

DEFAULT_ORIGINS: tuple[str, ...] = (
    *tuple(
        f"{scheme}://{host}{port}"
        for host in ("localhost", "127.0.0.1", "0.0.0.0")
        for scheme in ("http", "https")
        for port in ("", ":*")
    ),
    "app://*",
    "file://*",
    "tauri://*",
    "vscode-webview://*",
    "vscode-file://*",
)

_ALLOW_HEADERS = (
    "Authorization, Content-Type, User-Agent, Accept, X-Requested-With, OpenAI-Beta, "
    "x-stainless-arch, x-stainless-async, x-stainless-custom-poll-interval, x-stainless-helper-method, "
    "x-stainless-lang, x-stainless-os, x-stainless-package-version, x-stainless-poll-helper, "
    "x-stainless-retry-count, x-stainless-runtime, x-stainless-runtime-version, x-stainless-timeout"
)
_ALLOW_METHODS = "GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def cors_middleware(extra_origins: Iterable[str]) -> Middleware:
    """A middleware allowing the default origins plus ``extra_origins`` (``*`` wildcards)."""
    patterns = (*DEFAULT_ORIGINS, *extra_origins)

    def allowed(origin: str) -> bool:
        return any(p == "*" or fnmatch.fnmatchcase(origin, p) for p in patterns)

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        origin = request.headers.get("Origin")
        if origin is None:
            return await handler(request)
        if not allowed(origin):
            return web.json_response({"error": "origin not allowed"}, status=403)
        headers = {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}
        if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
            headers.update(
                {
                    "Access-Control-Allow-Methods": _ALLOW_METHODS,
                    "Access-Control-Allow-Headers": _ALLOW_HEADERS,
                    "Access-Control-Max-Age": "43200",
                }
            )
            return web.Response(status=204, headers=headers)
        response = await handler(request)
        if not response.prepared:
            response.headers.update(headers)
        return response

    return middleware
