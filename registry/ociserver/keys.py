"""Typed keys for what the aiohttp application owns (no module-level state anywhere)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from registry.ociserver.auth import Authenticator
    from registry.ociserver.blobs import BlobService
    from registry.ociserver.manifests import ManifestService
    from registry.ociserver.metrics import RegistryMetrics
    from registry.ociserver.mirror import Mirror
    from registry.ociserver.settings import ServerSettings
    from registry.ociserver.store import RegistryStore

__all__ = ["AUTH", "BLOBS", "MANIFESTS", "METRICS", "MIRROR", "SETTINGS", "STORE"]

SETTINGS: web.AppKey[ServerSettings] = web.AppKey("registry_settings")
STORE: web.AppKey[RegistryStore] = web.AppKey("registry_store")
BLOBS: web.AppKey[BlobService] = web.AppKey("registry_blobs")
MANIFESTS: web.AppKey[ManifestService] = web.AppKey("registry_manifests")
METRICS: web.AppKey[RegistryMetrics] = web.AppKey("registry_metrics")
MIRROR: web.AppKey[Mirror | None] = web.AppKey("registry_mirror")
AUTH: web.AppKey[Authenticator | None] = web.AppKey("registry_auth")
