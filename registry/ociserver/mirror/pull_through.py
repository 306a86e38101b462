"""Pull-through mirror: serve from the store, fetch misses from the one configured upstream.

- **Blobs**: a miss starts one *fill* per digest (concurrent misses share it). The fill streams the
  upstream body into a spool file while hashing; every waiting client is streamed the bytes as they
  land in that file. Only after the digest matches is the blob committed (touch, store, link), so a
  failed or lying upstream leaves nothing behind; clients of a failed fill see their connection cut
  short (never a wrong blob) and the next request starts a new fill.
- **Manifests by tag** are re-validated upstream when older than ``tag_ttl``; if the upstream is
  down (or errs), the cached manifest is served. Manifests by digest are immutable: fetched once.
- Pushes and deletes are refused on a mirror (the routes check).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from registry.errors import DigestMismatch, ModelNotFound, TransferError
from registry.oci.digest import Digest
from registry.oci.manifest import ManifestDocument
from registry.oci.name import Reference
from registry.ociserver.blob_commit import commit_blob
from registry.ociserver.blobs import BlobService
from registry.ociserver.http.metrics import RegistryMetrics
from registry.ociserver.manifests import ManifestService, manifest_record
from registry.ociserver.mirror.upstream import Upstream, raise_for_blob_status
from registry.ociserver.store import RegistryStore
from registry.store.catalog import RegistryCatalog

__all__ = ["Mirror"]

log = logging.getLogger(__name__)


@dataclass
class _Fill:
    """One in-flight upstream download of a blob."""

    path: Path
    size: int | None = None
    received: int = 0
    done: bool = False
    error: BaseException | None = None
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    task: asyncio.Task[None] | None = None


class Mirror:
    """The pull-through behaviour for one upstream."""

    def __init__(
        self,
        upstream_url: str,
        store: RegistryStore,
        blobs: BlobService,
        manifests: ManifestService,
        metrics: RegistryMetrics,
        tag_ttl: float,
    ) -> None:
        self.upstream = Upstream(upstream_url)
        self.store = store
        self.blobs = blobs
        self.manifests = manifests
        self.metrics = metrics
        self.tag_ttl = tag_ttl
        self._fills: dict[Digest, _Fill] = {}
        self._refreshing: dict[tuple[str, str], asyncio.Future[None]] = {}

    async def close(self) -> None:
        """Cancel fills and close the upstream client."""
        for fill in list(self._fills.values()):
            if fill.task is not None:
                fill.task.cancel()
        await self.upstream.close()

    # -- manifests ---------------------------------------------------------------------------------

    async def refresh_manifest(self, repo: str, reference: Reference) -> None:
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
                await self.manifests.get(repo, reference)
                self.metrics.mirror_hits.labels("manifest").inc()
                return
            except ModelNotFound:
                pass
        else:
            validated = await self.manifests.tag_validated_at(repo, reference.tag or "")
            if validated is not None and time.time() - validated < self.tag_ttl:
                self.metrics.mirror_hits.labels("manifest").inc()
                return
        self.metrics.mirror_misses.labels("manifest").inc()
        try:
            content, content_type = await self.upstream.manifest(repo, str(reference))
        except TransferError:
            if await self._cached(repo, reference):
                log.warning("upstream unavailable; serving cached %s:%s", repo, reference)
                return
            raise
        algorithm = reference.digest.algorithm if reference.digest is not None else "sha256"
        record = manifest_record(ManifestDocument.parse(content, content_type, algorithm=algorithm))
        if reference.digest is not None and record.digest != reference.digest:
            raise DigestMismatch("upstream manifest does not match the requested digest")
        await self.manifests.record_mirrored(repo, record, reference.tag)

    async def _cached(self, repo: str, reference: Reference) -> bool:
        try:
            await self.manifests.get(repo, reference)
        except ModelNotFound:
            return False
        return True

    async def refresh_tag_list(self, repo: str) -> None:
        """Tag lists show what the mirror has cached (no upstream call)."""

    # -- blobs -------------------------------------------------------------------------------------

    async def serve_blob(self, request: web.Request, repo: str, digest: Digest) -> web.StreamResponse:
        """Serve a blob not yet linked in ``repo``: link a cached copy, or fill from upstream."""
        from registry.ociserver.http.blob_routes import serve_stored_blob

        def link_cached(conn: Any) -> int | None:
            size = RegistryCatalog.linked_blob_size(conn, digest)  # linked somewhere: bytes stored
            return size if size is not None and RegistryCatalog.link_blob(conn, repo, digest) else None

        size = await self.store.write(link_cached)
        if size is not None:
            self.metrics.mirror_hits.labels("blob").inc()
            return await serve_stored_blob(request, digest, size)
        self.metrics.mirror_misses.labels("blob").inc()
        fill = self._fill_for(repo, digest)
        if request.method == "HEAD" or request.headers.get("Range"):
            await self._wait_done(fill)
            return await serve_stored_blob(request, digest, fill.received)
        return await self._stream_fill(request, digest, fill)

    def _fill_for(self, repo: str, digest: Digest) -> _Fill:
        fill = self._fills.get(digest)
        if fill is None or fill.error is not None:
            # A name of its own: processes sharing the spool directory may fill the same digest at once.
            fill = _Fill(self.store.spool.directory / f"mirror-{digest.hex}-{secrets.token_hex(8)}")
            self._fills[digest] = fill
            fill.task = asyncio.create_task(self._run_fill(repo, digest, fill))
        return fill

    async def _wait_done(self, fill: _Fill) -> None:
        async with fill.changed:
            await fill.changed.wait_for(lambda: fill.done or fill.error is not None)
        if fill.error is not None:
            raise fill.error

    async def _run_fill(self, repo: str, digest: Digest, fill: _Fill) -> None:
        try:
            await self._download(repo, digest, fill)
            holder = f"mirror-{secrets.token_hex(8)}"
            await commit_blob(self.store, repo, digest, fill.received, fill.path, holder)
            fill.path.unlink(missing_ok=True)  # left when the backend already held the bytes
            async with fill.changed:
                fill.done = True
                fill.changed.notify_all()
        except BaseException as err:
            fill.path.unlink(missing_ok=True)
            async with fill.changed:
                fill.error = err if isinstance(err, Exception) else TransferError("mirror fill cancelled")
                fill.changed.notify_all()
            if not isinstance(err, Exception):
                raise
        finally:
            if self._fills.get(digest) is fill:
                del self._fills[digest]

    async def _download(self, repo: str, digest: Digest, fill: _Fill) -> None:
        hasher = digest.new_hasher()
        async with self.upstream.request("GET", repo, f"blobs/{digest}") as r:
            raise_for_blob_status(r.status, str(digest))
            with open(fill.path, "wb") as f:
                async with fill.changed:
                    fill.size = r.content_length if r.content_length is not None else -1
                    fill.changed.notify_all()
                try:
                    async for chunk in r.content.iter_chunked(1 << 20):
                        hasher.update(chunk)
                        await asyncio.to_thread(f.write, chunk)
                        f.flush()
                        async with fill.changed:
                            fill.received += len(chunk)
                            fill.changed.notify_all()
                except (TimeoutError, OSError) as err:
                    raise TransferError(f"upstream broke off while sending {digest}: {err}") from err
        if hasher.hexdigest() != digest.hex or (
            fill.size is not None and fill.size >= 0 and fill.received != fill.size
        ):
            raise DigestMismatch(f"upstream sent bytes that do not match {digest}; nothing was stored")

    async def _stream_fill(self, request: web.Request, digest: Digest, fill: _Fill) -> web.StreamResponse:
        async with fill.changed:
            await fill.changed.wait_for(lambda: fill.size is not None or fill.error is not None or fill.done)
        if fill.error is not None:
            raise fill.error
        try:
            f = open(fill.path, "rb")  # noqa: SIM115 - closed below
        except FileNotFoundError:  # the fill finished and was committed meanwhile
            from registry.ociserver.http.blob_routes import serve_stored_blob

            return await serve_stored_blob(request, digest, fill.received)
        response = web.StreamResponse(
            headers={"Docker-Content-Digest": str(digest), "Content-Type": "application/octet-stream"}
        )
        if fill.size is not None and fill.size >= 0:
            response.content_length = fill.size
        await response.prepare(request)
        sent = 0
        with f:
            while True:
                async with fill.changed:
                    await fill.changed.wait_for(functools.partial(_has_news, fill, sent))
                if fill.error is not None:
                    raise ConnectionResetError("upstream fill failed; the response is cut short")
                data = await asyncio.to_thread(f.read, fill.received - sent)
                if data:
                    await response.write(data)
                    sent += len(data)
                elif fill.done:
                    break
        await response.write_eof()
        return response


def _has_news(fill: _Fill, sent: int) -> bool:
    return fill.received > sent or fill.done or fill.error is not None
