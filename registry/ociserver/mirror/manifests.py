"""The manifest service of a mirror: the store's :class:`ManifestService` whose reads go upstream
first when the cache cannot answer.

Manifests by tag are re-validated upstream when older than ``tag_ttl``; if the upstream is down (or
errs), the cached manifest is served. Manifests by digest are immutable: fetched once. Concurrent
reads of one reference share one refresh. Tag lists show what the mirror has cached.
"""

from __future__ import annotations

import asyncio
import logging
import time

from registry.errors import DigestMismatch, ModelNotFound, TransferError
from registry.oci.manifest import ManifestDocument
from registry.oci.name import Reference
from registry.ociserver.manifests import ManifestService, StoredManifest, manifest_record
from registry.ociserver.mirror.counting import MirrorCount
from registry.ociserver.mirror.upstream_link import UpstreamLink
from registry.ociserver.store import RegistryStore

__all__ = ["MirroredManifests"]

log = logging.getLogger(__name__)


class MirroredManifests(ManifestService):
    """:class:`ManifestService` with ``get`` reading through to the upstream."""

    def __init__(
        self,
        store: RegistryStore,
        max_manifest_bytes: int,
        cache_seconds: float,
        *,
        upstream: UpstreamLink,
        count: MirrorCount,
        tag_ttl: float,
    ) -> None:
        super().__init__(store, max_manifest_bytes, cache_seconds)
        self.upstream = upstream
        self.count = count
        self.tag_ttl = tag_ttl
        self._refreshing: dict[tuple[str, str], asyncio.Future[None]] = {}

    async def get(self, repo: str, reference: Reference) -> StoredManifest:
        """The manifest, fetched or revalidated upstream first as needed (see :meth:`refresh`)."""
        await self.refresh(repo, reference)
        return await super().get(repo, reference)

    async def refresh(self, repo: str, reference: Reference) -> None:
        """Make sure the store can answer ``reference`` (fetching/revalidating upstream as needed).

        Never raises for an upstream outage when a cached copy exists; raises ModelNotFound or
        TransferError when there is nothing to serve.
        """
        key = (repo, str(reference))
        running = self._refreshing.get(key)
        if running is not None:
            await asyncio.shield(running)
            return
        future = asyncio.get_running_loop().create_future()
        self._refreshing[key] = future
        try:
            await self._refresh(repo, reference)
            future.set_result(None)
        except BaseException as err:
            future.set_exception(err)
            future.exception()  # mark retrieved
            raise
        finally:
            del self._refreshing[key]

    async def _refresh(self, repo: str, reference: Reference) -> None:
        if reference.digest is not None:
            try:
                await super().get(repo, reference)
                self.count("manifest", True)
                return
            except ModelNotFound:
                pass
        else:
            validated = await self.tag_validated_at(repo, reference.tag or "")
            if validated is not None and time.time() - validated < self.tag_ttl:
                self.count("manifest", True)
                return
        self.count("manifest", False)
        try:
            content, content_type = await self.upstream.manifest(repo, str(reference))
        except TransferError:
            if await self._has_cached(repo, reference):
                log.warning("upstream unavailable; serving cached %s:%s", repo, reference)
                return
            raise
        algorithm = reference.digest.algorithm if reference.digest is not None else "sha256"
        record = manifest_record(ManifestDocument.parse(content, content_type, algorithm=algorithm))
        if reference.digest is not None and record.digest != reference.digest:
            raise DigestMismatch("upstream manifest does not match the requested digest")
        await self.record_mirrored(repo, record, reference.tag)

    async def _has_cached(self, repo: str, reference: Reference) -> bool:
        try:
            await super().get(repo, reference)
        except ModelNotFound:
            return False
        return True
