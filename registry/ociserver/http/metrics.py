"""Prometheus metrics at ``/metrics``, in a registry owned by the application (no global state)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

__all__ = ["RegistryMetrics"]


class RegistryMetrics:
    """Every metric the registry server exports."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "registry_http_requests",
            "HTTP requests by route, method and status",
            ["route", "method", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "registry_http_request_seconds", "Request handling time", ["route"], registry=r
        )
        self.bytes_in = Counter("registry_bytes_received", "Request body bytes received", registry=r)
        self.bytes_out = Counter(
            "registry_bytes_sent", "Response body bytes announced by Content-Length", registry=r
        )
        self.mirror_hits = Counter(
            "registry_mirror_hits", "Mirror requests served from the cache", ["kind"], registry=r
        )
        self.mirror_misses = Counter(
            "registry_mirror_misses", "Mirror requests fetched upstream", ["kind"], registry=r
        )
        self.uploads_started = Counter(
            "registry_upload_sessions_started", "Upload sessions started", registry=r
        )
        self.uploads_completed = Counter(
            "registry_upload_sessions_completed", "Blob uploads committed", registry=r
        )
        self.password_hashes = Counter(
            "registry_password_hashes",
            "Password hash computations (bcrypt/argon2), unknown users included",
            registry=r,
        )
        self.gc_runs = Counter("registry_gc_runs", "Garbage collection runs", registry=r)
        self.gc_bytes_freed = Counter(
            "registry_gc_bytes_freed", "Bytes freed by garbage collection", registry=r
        )
        self.gc_blobs_removed = Counter(
            "registry_gc_blobs_removed", "Blobs removed by garbage collection", registry=r
        )

        self.stored_bytes = Gauge(
            "registry_stored_bytes", "Bytes of stored blobs (read from the catalog when scraped)", registry=r
        )
        self.repositories = Gauge(
            "registry_repositories", "Repositories holding a manifest (read when scraped)", registry=r
        )
        #: ``() -> (stored bytes, repositories)``, set once the storage is open.
        self.totals: Callable[[], Awaitable[tuple[int, int]]] | None = None

    def middleware(self) -> Callable[..., Awaitable[web.StreamResponse]]:
        """An aiohttp middleware counting requests by route template and final status."""

        @web.middleware
        async def count(
            request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
        ) -> web.StreamResponse:
            started = time.monotonic()
            route = _route_of(request)
            status = 500
            try:
                response = await handler(request)
                status = response.status
                return response
            except web.HTTPException as exc:
                status = exc.status
                raise
            finally:
                self.requests.labels(route, request.method, str(status)).inc()
                self.latency.labels(route).observe(time.monotonic() - started)
                if request.content_length:
                    self.bytes_in.inc(request.content_length)

        return count

    async def on_prepare(self, request: web.Request, response: web.StreamResponse) -> None:
        """Signal handler: count the bytes a response announces."""
        if response.content_length and request.method != "HEAD":
            self.bytes_out.inc(response.content_length)

    async def handle(self, request: web.Request) -> web.Response:
        """GET /metrics in the Prometheus text format (the gauges read from the catalog first)."""
        if self.totals is not None:
            stored, repositories = await self.totals()
            self.stored_bytes.set(stored)
            self.repositories.set(repositories)
        body = generate_latest(self.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def _route_of(request: web.Request) -> str:
    info = request.match_info
    route = getattr(info, "route", None)
    resource = getattr(route, "resource", None)
    if resource is None:
        return "unmatched"
    return str(resource.canonical)
