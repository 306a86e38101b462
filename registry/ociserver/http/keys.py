"""Typed keys for what the aiohttp application owns (no module-level state anywhere)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from registry.ociserver.auth.authenticator import Authenticator
    from registry.ociserver.blobs import BlobService
    from registry.ociserver.http.metrics import RegistryMetrics
    from registry.ociserver.manifests import ManifestService
    from registry.ociserver.mirror.pull_through import Mirror
    from registry.ociserver.settings import ServerSettings
    from registry.ociserver.store import RegistryStore
    from registry.ociserver.web.browse import ModelBrowser
    from registry.ociserver.web.render import PageRenderer
    from registry.ociserver.web.sessions import SessionSigner

__all__ = [
    "AUTH",
    "BLOBS",
    "BROWSER",
    "MANIFESTS",
    "METRICS",
    "MIRROR",
    "PAGES",
    "SESSIONS",
    "SETTINGS",
    "STORE",
    "TRANSFER_THREADS",
]

SETTINGS: web.AppKey[ServerSettings] = web.AppKey("registry_settings")
STORE: web.AppKey[RegistryStore] = web.AppKey("registry_store")
BLOBS: web.AppKey[BlobService] = web.AppKey("registry_blobs")
MANIFESTS: web.AppKey[ManifestService] = web.AppKey("registry_manifests")
METRICS: web.AppKey[RegistryMetrics] = web.AppKey("registry_metrics")
MIRROR: web.AppKey[Mirror | None] = web.AppKey("registry_mirror")
AUTH: web.AppKey[Authenticator | None] = web.AppKey("registry_auth")
#: The web page: its queries (opened with the storage), templates, and sign-in sessions (with auth).
BROWSER: web.AppKey[ModelBrowser] = web.AppKey("registry_browser")
PAGES: web.AppKey[PageRenderer] = web.AppKey("registry_pages")
SESSIONS: web.AppKey[SessionSigner | None] = web.AppKey("registry_sessions")
#: Threads for blocking socket transfers of large blob bodies (sendfile out, recv in). They can block
#: for as long as a slow client takes, so they never share asyncio's default executor, which the
#: catalog and short file operations use.
TRANSFER_THREADS: web.AppKey[ThreadPoolExecutor] = web.AppKey("registry_transfer_threads")
