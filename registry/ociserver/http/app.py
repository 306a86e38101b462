"""The registry application: storage opened in ``cleanup_ctx``, routes, middlewares, background tasks.

The web page (``ui_routes``) shares the app: ``/``, ``/ui/...`` and ``/ui/api/...``.

Middlewares, outermost first: metrics (sees final statuses) -> access log (when configured) ->
errors (domain errors to OCI JSON) -> auth (when configured). Background work (periodic GC, upload purging) is one task owned by the
app and cancelled on cleanup.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor

from aiohttp import web

from registry.access_log import AccessLog
from registry.ociserver.auth.access_model import ANONYMOUS
from registry.ociserver.auth.authenticator import IDENTITY, Authenticator
from registry.ociserver.blobs import BlobService
from registry.ociserver.gc import collect_garbage
from registry.ociserver.http import blob_routes, manifest_routes, ui_routes
from registry.ociserver.http.errcodes import error_middleware
from registry.ociserver.http.host_guard import host_guard_middleware, needs_host_guard
from registry.ociserver.http.keys import (
    AUTH,
    BLOBS,
    BROWSER,
    MANIFESTS,
    METRICS,
    MIRROR,
    PAGES,
    SESSIONS,
    SETTINGS,
    STORE,
    TRANSFER_THREADS,
)
from registry.ociserver.http.metrics import RegistryMetrics
from registry.ociserver.manifests import ManifestService
from registry.ociserver.settings import ServerSettings
from registry.ociserver.store import RegistryStore
from registry.ociserver.web.browse import ModelBrowser
from registry.ociserver.web.render import PageRenderer
from registry.ociserver.web.sessions import SessionSigner
from registry.store.catalog import RegistryCatalog

__all__ = ["build_app"]

log = logging.getLogger(__name__)

#: Most large blob bodies moving at once through threads; more wait for a free thread.
_TRANSFER_THREADS = 256

#: aiohttp's own cap for bodies read whole (manifests are read with their own limit).
_CLIENT_MAX_SIZE = 64 << 20

#: How long a web page sign-in lasts.
_SESSION_TTL = 12 * 3600.0


def build_app(settings: ServerSettings) -> web.Application:
    """The registry application for ``settings`` (storage is opened when the app starts)."""
    metrics = RegistryMetrics()
    auth = (
        Authenticator(settings.auth, on_hash=metrics.password_hashes.inc)
        if settings.auth is not None
        else None
    )
    access_log = AccessLog(settings.access_log, user_of=_user_of) if settings.access_log else None
    middlewares = [metrics.middleware()]
    if access_log is not None:
        middlewares.append(access_log.middleware())
    middlewares.append(error_middleware)
    if needs_host_guard(settings):
        middlewares.append(host_guard_middleware(settings.host))
    if auth is not None:
        middlewares.append(auth.middleware())
    app = web.Application(middlewares=middlewares, client_max_size=_CLIENT_MAX_SIZE)
    app[SETTINGS] = settings
    app[METRICS] = metrics
    app[AUTH] = auth
    app[PAGES] = PageRenderer()
    app[SESSIONS] = SessionSigner(auth.config.token_secret, _SESSION_TTL) if auth is not None else None
    app.on_response_prepare.append(metrics.on_prepare)
    if auth is not None:
        app.on_cleanup.append(_close_auth)
    if access_log is not None:
        app.on_cleanup.append(lambda _app: _close_access_log(access_log))
    app.cleanup_ctx.append(_transfer_threads_ctx)
    app.cleanup_ctx.append(_storage_ctx)
    app.cleanup_ctx.append(_maintenance_ctx)
    app.router.add_get("/metrics", metrics.handle)
    if auth is not None:
        app.router.add_get("/v2/token", auth.token_endpoint)
    manifest_routes.add_routes(app)
    blob_routes.add_routes(app)
    ui_routes.add_routes(app)
    return app


def _user_of(request: web.Request) -> str | None:
    """The identified caller's name for the access log (None when anonymous or unidentified)."""
    identity = request.get(IDENTITY)
    return identity.name if identity is not None and identity.name != ANONYMOUS else None


async def _close_access_log(access_log: AccessLog) -> None:
    access_log.close()


async def _close_auth(app: web.Application) -> None:
    auth = app[AUTH]
    if auth is not None:
        auth.close()


async def _transfer_threads_ctx(app: web.Application) -> AsyncIterator[None]:
    threads = ThreadPoolExecutor(max_workers=_TRANSFER_THREADS, thread_name_prefix="blob-transfer")
    app[TRANSFER_THREADS] = threads
    try:
        yield
    finally:
        threads.shutdown(wait=False, cancel_futures=True)


async def _storage_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    store = await asyncio.to_thread(RegistryStore.open, settings)
    app[STORE] = store
    app[METRICS].totals = lambda: store.read(RegistryCatalog.storage_totals)
    app[BLOBS] = BlobService(store)
    mirror = None
    if settings.upstream:
        from registry.ociserver.mirror.pull_through import open_mirror

        mirror = await open_mirror(
            settings.upstream,
            store,
            max_manifest_bytes=settings.max_manifest_bytes,
            tag_cache_seconds=settings.tag_cache_seconds,
            tag_ttl=settings.mirror_tag_ttl,
            count=_mirror_counter(app[METRICS]),
            credentials=settings.upstream_credentials,
        )
    app[MANIFESTS] = (
        mirror.manifests
        if mirror is not None
        else ManifestService(store, settings.max_manifest_bytes, settings.tag_cache_seconds)
    )
    app[MIRROR] = mirror
    app[BROWSER] = ModelBrowser(store, settings.upstream)
    try:
        yield
    finally:
        if mirror is not None:
            await mirror.close()
        await store.close()


def _mirror_counter(metrics: RegistryMetrics) -> Callable[[str, bool], None]:
    """The mirror's ``count(kind, hit)``: its cache hits and upstream fetches as metrics."""

    def count(kind: str, hit: bool) -> None:
        (metrics.mirror_hits if hit else metrics.mirror_misses).labels(kind).inc()

    return count


async def _maintenance_ctx(app: web.Application) -> AsyncIterator[None]:
    task = asyncio.create_task(_maintenance_loop(app))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _maintenance_loop(app: web.Application) -> None:
    """Periodic online GC when ``gc_interval`` is set; otherwise only stale upload sessions are purged
    (every ``upload_max_age / 4``, at most hourly)."""
    settings = app[SETTINGS]
    metrics = app[METRICS]
    sweep = settings.gc_interval > 0
    interval = settings.gc_interval if sweep else min(max(settings.upload_max_age / 4, 1.0), 3600.0)
    while True:
        await asyncio.sleep(interval)
        try:
            report = await collect_garbage(
                app[STORE],
                grace=settings.gc_grace,
                upload_max_age=settings.upload_max_age,
                now=time.time(),
                sweep_blobs=sweep,
            )
        except Exception:
            log.exception("periodic garbage collection failed")
            continue
        if not sweep:
            continue
        metrics.gc_runs.inc()
        metrics.gc_bytes_freed.inc(report.bytes_freed)
        metrics.gc_blobs_removed.inc(len(report.blobs_removed))
        log.info("gc: removed %d blobs, %d bytes", len(report.blobs_removed), report.bytes_freed)
