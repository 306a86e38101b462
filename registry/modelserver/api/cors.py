"""CORS as Ollama does it: ``OLLAMA_ORIGINS`` added to built-in local origins, wildcards allowed,
preflight (``OPTIONS``) answered with 204.

An ``Origin`` is parsed as a URL before it is matched: it must be ``scheme://host[:port]`` with no
user info, path, query or fragment (``http://localhost:1@evil`` is not an origin, so no pattern
matches it). A pattern's ``*`` matches within one part: the scheme, the host or the port
(``http://localhost:*`` allows any port of localhost, ``app://*`` any host and port of ``app:``).
The pattern ``*`` alone allows every origin.

Where Ollama's matcher (gin-contrib/cors: a pattern ending in ``*`` is a prefix, one starting with
``*`` a suffix) allows what users write, so does this one: a host ending in ``*`` with no port in
the pattern allows any port (``http://192.168.1.*`` allows ``http://192.168.1.5:3000``), and a
pattern without a scheme that starts with ``*`` allows any scheme (``*.example.com``). As in
Ollama, a same-origin request (``Origin`` equal to ``http(s)://`` + ``Host``, as a web UI behind a
reverse proxy that keeps ``Host`` sends) is not a cross-origin request and always passes; the host
guard, which runs first, has already refused foreign ``Host`` names on a loopback-bound server.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable
from urllib.parse import urlsplit

from aiohttp import web
from aiohttp.typedefs import Middleware

__all__ = ["DEFAULT_ORIGINS", "cors_middleware", "cors_on_prepare"]

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

_ALLOWED = web.RequestKey("cors_allowed", dict[str, str])


def cors_middleware(extra_origins: Iterable[str]) -> Middleware:
    """A middleware allowing the default origins plus ``extra_origins`` (``*`` wildcards). The app
    must also run :func:`cors_on_prepare` on ``on_response_prepare`` (it adds the headers)."""
    patterns = (*DEFAULT_ORIGINS, *extra_origins)
    allow_all = "*" in patterns
    compiled = [_compile(p) for p in patterns if p != "*"]

    def allowed(origin: str) -> bool:
        if allow_all:
            return True
        parts = _origin_parts(origin)
        return parts is not None and any(_matches(pattern, parts) for pattern in compiled)

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        origin = request.headers.get("Origin")
        if origin is None or _same_origin(origin, request.headers.get("Host", "")):
            return await handler(request)
        if not allowed(origin):
            return web.json_response({"error": "origin not allowed"}, status=403)
        headers = {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}
        request[_ALLOWED] = headers  # added by cors_on_prepare to whatever answers, streamed too
        if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
            headers.update(
                {
                    "Access-Control-Allow-Methods": _ALLOW_METHODS,
                    "Access-Control-Allow-Headers": _ALLOW_HEADERS,
                    "Access-Control-Max-Age": "43200",
                }
            )
            return web.Response(status=204, headers=headers)
        return await handler(request)

    return middleware


async def cors_on_prepare(request: web.Request, response: web.StreamResponse) -> None:
    """The ``on_response_prepare`` signal: the allowed origin's headers on every response the
    middleware let through, before its headers are sent (a streamed NDJSON or SSE reply is
    prepared inside the handler, so the middleware cannot add them afterwards)."""
    headers = request.get(_ALLOWED)
    if headers is not None:
        response.headers.update(headers)


def _same_origin(origin: str, host: str) -> bool:
    """Whether ``origin`` is the server's own origin as the request names it (not a CORS request)."""
    origin = origin.lower()
    host = host.strip().lower()
    return bool(host) and origin in (f"http://{host}", f"https://{host}")


_Parts = tuple[str, str, str]  # scheme, host, port ("" when absent)
_Pattern = tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str] | None]

_HOST = re.compile(r"[a-z0-9._~!$&'()+,;=-]*|\[[0-9a-f:.]+\]")


def _origin_parts(origin: str) -> _Parts | None:
    """``(scheme, host, port)`` of a serialized origin, or None for anything else."""
    if not origin.isascii() or any(c in origin for c in "\\ \t\r\n"):
        return None
    try:
        url = urlsplit(origin)
        port = url.port
    except ValueError:
        return None
    scheme, sep, _ = origin.partition("://")
    if not scheme or not sep or url.path or url.query or url.fragment or "@" in url.netloc:
        return None
    host = url.netloc.lower()
    if port is not None:
        host = host.rsplit(":", 1)[0]
    if not _HOST.fullmatch(host):
        return None
    return scheme.lower(), host, "" if port is None else str(port)


def _compile(pattern: str) -> _Pattern:
    scheme, sep, authority = pattern.partition("://")
    if not sep:  # "*.example.com": any scheme (Ollama matches it as a suffix of the origin)
        scheme, authority = ("*", pattern) if pattern.startswith("*") else (pattern, "")
    port: str | None = None
    if authority.startswith("["):
        end = authority.find("]")
        host, port = (
            authority[: end + 1],
            authority[end + 2 :] if authority[end + 1 : end + 2] == ":" else None,
        )
    elif ":" in authority:
        host, _, port = authority.rpartition(":")
    else:
        host = authority
    return _glob(scheme), _glob(host), None if port is None else _glob(port)


def _glob(text: str) -> re.Pattern[str]:
    return re.compile(".*".join(re.escape(piece) for piece in text.lower().split("*")))


def _matches(pattern: _Pattern, parts: _Parts) -> bool:
    scheme, host, port = pattern
    if not scheme.fullmatch(parts[0]) or not host.fullmatch(parts[1]):
        return False
    if port is None:  # no port in the pattern: only a port-less origin, unless the host ends in "*"
        return not parts[2] or host.pattern.endswith(".*")
    return bool(port.fullmatch(parts[2]))
