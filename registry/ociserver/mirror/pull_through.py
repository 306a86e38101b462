"""Pull-through mirror: serve from the store, fetch misses from the one configured upstream.

- **Blobs**: a miss starts one *fill* per digest (concurrent misses share it). The fill streams the
  upstream body into a spool file, verified on the way by the registry client
  (:func:`registry.remote.fetch.fetch_blob`); every waiting client is streamed the bytes as they
  land in that file. Only after the digest matches is the blob committed (touch, store, link), so a
  failed or lying upstream leaves nothing behind; clients of a failed fill see their connection cut
  short (never a wrong blob) and the next request starts a new fill.
- **Tag lists** show what the mirror has cached (no upstream call).
- **Manifests by tag** are re-validated upstream when older than ``tag_ttl``; if the upstream is
  down (or errs), the cached manifest is served. Manifests by digest are immutable: fetched once.
- The upstream is reached through :mod:`registry.remote` (one long-lived :class:`Transport`: its
  Bearer-token handling, credential-safe redirects); only URLs under the configured base are
  requested and tokens only from a realm on the upstream's host.
- Pushes and deletes are refused on a mirror (the http layer's write guard).

This module sits below the http layer: it knows no request or response; hits and misses are
reported through the ``count`` callback the server wires in.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

from registry.errors import BlobNotFound, DigestMismatch, ModelNotFound, TransferError, Unauthorized
from registry.oci.digest import Digest
from registry.ociserver.blob_commit import commit_blob
from registry.ociserver.manifest_doc import parse_manifest
from registry.ociserver.manifests import ManifestService
from registry.ociserver.mirror.fill import Fill, FillReader
from registry.ociserver.names import Reference
from registry.ociserver.store import RegistryStore
from registry.remote.fetch import RegistryAnswered, fetch_blob, fetch_manifest
from registry.remote.options import TransferOptions
from registry.remote.transport import Transport
from registry.store.catalog import RegistryCatalog

__all__ = ["Mirror", "MirrorCount"]

log = logging.getLogger(__name__)

#: ``count(kind, hit)``: a ``"blob"`` or ``"manifest"`` lookup served from the cache (True) or
#: fetched upstream (False).
MirrorCount = Callable[[str, bool], None]

#: How the mirror talks to its upstream: as the old dedicated client did (no proxy variables, no
#: connection cap per host, 30 s to connect and per read, tokens only from the upstream's host,
#: a refused token asked for again at the next 401).
_UPSTREAM_OPTIONS = TransferOptions(
    insecure=False,
    trust_env=False,
    connect_timeout=30.0,
    stall_timeout=30.0,
    max_connections=100,
    max_connections_per_host=0,
    same_host_realm_only=True,
    remember_refusals=False,
)


class Mirror:
    """The pull-through behaviour for one upstream. ``open()`` before use, ``close()`` after."""

    def __init__(
        self,
        upstream_url: str,
        store: RegistryStore,
        manifests: ManifestService,
        count: MirrorCount,
        tag_ttl: float,
    ) -> None:
        self.base_url = upstream_url.rstrip("/")
        self._host = urlsplit(self.base_url).netloc
        self._transport = Transport(_UPSTREAM_OPTIONS)
        self.store = store
        self.manifests = manifests
        self.count = count
        self.tag_ttl = tag_ttl
        self._fills: dict[Digest, Fill] = {}
        self._refreshing: dict[tuple[str, str], asyncio.Future[None]] = {}

    async def open(self) -> None:
        """Open the upstream client."""
        await self._transport.__aenter__()

    async def close(self) -> None:
        """Cancel fills and close the upstream client."""
        for fill in list(self._fills.values()):
            if fill.task is not None:
                fill.task.cancel()
        await self._transport.__aexit__(None, None, None)

    def _url(self, repo: str, path: str) -> str:
        return f"{self.base_url}/v2/{repo}/{path}"

    @asynccontextmanager
    async def _upstream_errors(self, what: str) -> AsyncIterator[None]:
        """The client's errors in the mirror's words: an unanswerable 401 or another status is a
        TransferError naming it (502: the cache may still answer)."""
        try:
            yield
        except RegistryAnswered as err:
            raise TransferError(f"upstream answered {err.status} for {what}") from err
        except Unauthorized as err:
            raise TransferError(f"upstream answered 401 for {what}") from err
        except TransferError as err:
            raise TransferError(f"upstream {self._host} is unreachable: {err}") from err

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
                self.count("manifest", True)
                return
            except ModelNotFound:
                pass
        else:
            validated = await self.manifests.tag_validated_at(repo, reference.tag or "")
            if validated is not None and time.time() - validated < self.tag_ttl:
                self.count("manifest", True)
                return
        self.count("manifest", False)
        try:
            content, content_type = await self._fetch_manifest(repo, str(reference))
        except TransferError:
            if await self._cached(repo, reference):
                log.warning("upstream unavailable; serving cached %s:%s", repo, reference)
                return
            raise
        algorithm = reference.digest.algorithm if reference.digest is not None else "sha256"
        record = parse_manifest(content, content_type, algorithm)
        if reference.digest is not None and record.digest != reference.digest:
            raise DigestMismatch("upstream manifest does not match the requested digest")
        await self.manifests.record_mirrored(repo, record, reference.tag)

    async def _fetch_manifest(self, repo: str, reference: str) -> tuple[bytes, str | None]:
        """``(bytes, Content-Type)`` of a manifest upstream. Raises ModelNotFound (404) / TransferError."""
        async with self._upstream_errors(f"manifest {repo}:{reference}"):
            fetched = await fetch_manifest(
                self._transport,
                self._url(repo, f"manifests/{reference}"),
                scope=_pull_scope(repo),
                max_bytes=None,
            )
        if fetched is None:
            raise ModelNotFound("manifest unknown to registry (upstream)", detail={"reference": reference})
        return fetched.content, fetched.media_type

    async def _cached(self, repo: str, reference: Reference) -> bool:
        try:
            await self.manifests.get(repo, reference)
        except ModelNotFound:
            return False
        return True

    # -- blobs -------------------------------------------------------------------------------------

    async def blob(self, repo: str, digest: Digest, *, follow: bool) -> int | FillReader:
        """A blob not yet linked in ``repo``: link a cached copy, or fill it from upstream.

        Returns the stored size (serve the stored blob), or, when ``follow`` (a whole GET) and the
        fill is under way, a reader of the bytes as they land. Without ``follow`` (HEAD, ranges)
        it waits for the fill to be committed. Raises BlobNotFound / TransferError / DigestMismatch.
        """

        def link_cached(conn: Any) -> int | None:
            size = RegistryCatalog.linked_blob_size(conn, digest)  # linked somewhere: bytes stored
            return size if size is not None and RegistryCatalog.link_blob(conn, repo, digest) else None

        size = await self.store.write(link_cached)
        if size is not None:
            self.count("blob", True)
            return int(size)
        self.count("blob", False)
        fill = self._fill_for(repo, digest)
        if follow:
            reader = await fill.reader()
            if reader is not None:
                return reader
        else:
            await fill.wait_done()
        return fill.received

    def _fill_for(self, repo: str, digest: Digest) -> Fill:
        fill = self._fills.get(digest)
        if fill is None or fill.error is not None:
            # A name of its own: processes sharing the spool directory may fill the same digest at once.
            fill = Fill(self.store.spool.directory / f"mirror-{digest.hex}-{secrets.token_hex(8)}")
            self._fills[digest] = fill
            fill.task = asyncio.create_task(self._run_fill(repo, digest, fill))
        return fill

    async def _run_fill(self, repo: str, digest: Digest, fill: Fill) -> None:
        try:
            await self._download(repo, digest, fill)
            holder = f"mirror-{secrets.token_hex(8)}"
            await commit_blob(self.store, repo, digest, fill.received, fill.path, holder)
            fill.path.unlink(missing_ok=True)  # left when the backend already held the bytes
            await fill.finish(None)
        except BaseException as err:
            fill.close_file()
            fill.path.unlink(missing_ok=True)
            await fill.finish(err if isinstance(err, Exception) else TransferError("mirror fill cancelled"))
            if not isinstance(err, Exception):
                raise
        finally:
            if self._fills.get(digest) is fill:
                del self._fills[digest]

    async def _download(self, repo: str, digest: Digest, fill: Fill) -> None:
        """Fetch the blob into the fill's spool file, verified by the registry client."""
        try:
            async with self._upstream_errors(f"blob {digest}"):
                await fetch_blob(
                    self._transport,
                    self._url(repo, f"blobs/{digest}"),
                    scope=_pull_scope(repo),
                    digest=digest,
                    sink=fill,
                )
        except BlobNotFound as err:
            raise BlobNotFound("blob unknown to registry (upstream)", detail={"digest": str(digest)}) from err
        except DigestMismatch as err:
            raise DigestMismatch(
                f"upstream sent bytes that do not match {digest}; nothing was stored"
            ) from err
        finally:
            fill.close_file()


def _pull_scope(repo: str) -> str:
    return f"repository:{repo}:pull"
