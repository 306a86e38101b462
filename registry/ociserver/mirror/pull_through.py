"""Pull-through mirror: serve from the store, fetch misses from the one configured upstream.

A mirror is the store's services decorated, below the HTTP layer, which wires it in:

- :class:`MirroredManifests` (``mirror/manifests.py``) is the app's manifest service: reads go
  upstream first when the cache cannot answer (tags re-validated after ``tag_ttl``, the cache served
  when the upstream is down);
- :class:`MirroredBlobs` (``mirror/blobs.py``) answers a blob not linked in the repository: a cached
  copy is linked, or one verified *fill* per digest is streamed to every waiting client
  (``mirror/fill.py``);
- both reach the upstream through :class:`UpstreamLink` (``mirror/upstream_link.py``): the one
  registry client, :mod:`registry.remote`, bound to the upstream's URL.

Pushes and deletes are refused on a mirror (the HTTP layer's write guard). Hits and misses are
reported through the ``count`` callback the server passes in.
"""

from __future__ import annotations

from dataclasses import dataclass

from registry.ociserver.mirror.blobs import MirroredBlobs
from registry.ociserver.mirror.counting import MirrorCount
from registry.ociserver.mirror.manifests import MirroredManifests
from registry.ociserver.mirror.upstream_link import UpstreamLink
from registry.ociserver.store import RegistryStore
from registry.remote.credentials import BasicCredentials

__all__ = ["Mirror", "open_mirror"]


@dataclass(frozen=True, slots=True)
class Mirror:
    """A mirror's decorated services and its upstream link. ``close()`` when the server stops."""

    blobs: MirroredBlobs
    manifests: MirroredManifests
    upstream: UpstreamLink

    async def close(self) -> None:
        """Cancel fills, then close the upstream client."""
        await self.blobs.close()
        await self.upstream.close()


async def open_mirror(
    upstream_url: str,
    store: RegistryStore,
    *,
    max_manifest_bytes: int,
    tag_cache_seconds: float,
    tag_ttl: float,
    count: MirrorCount,
    credentials: BasicCredentials | None = None,
) -> Mirror:
    """The mirror of ``upstream_url`` over ``store`` (logged in with ``credentials`` when given),
    its upstream client open."""
    upstream = UpstreamLink(upstream_url, credentials)
    await upstream.open()
    manifests = MirroredManifests(
        store, max_manifest_bytes, tag_cache_seconds, upstream=upstream, count=count, tag_ttl=tag_ttl
    )
    return Mirror(MirroredBlobs(store, upstream, count), manifests, upstream)
