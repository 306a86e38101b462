"""The blob side of a mirror: a blob not yet linked in a repository is linked from a cached copy, or
filled from upstream.

A miss starts one *fill* per digest (concurrent misses share it). The fill streams the upstream
body into a spool file, verified on the way by the registry client; every waiting client follows
the bytes as they land in that file. Only after the digest matches is the blob committed (touch,
store, link), so a failed or lying upstream leaves nothing behind; clients of a failed fill see
their stream cut short (never a wrong blob) and the next request starts a new fill.
"""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

from registry.errors import TransferError
from registry.oci.digest import Digest
from registry.ociserver.blob_commit import commit_blob
from registry.ociserver.mirror.counting import MirrorCount
from registry.ociserver.mirror.fill import Fill, FillReader
from registry.ociserver.mirror.upstream_link import UpstreamLink
from registry.ociserver.store import RegistryStore
from registry.store.catalog import RegistryCatalog

__all__ = ["MirroredBlobs"]


class MirroredBlobs:
    """Read-through of blobs for one upstream. ``close()`` cancels the fills."""

    def __init__(self, store: RegistryStore, upstream: UpstreamLink, count: MirrorCount) -> None:
        self.store = store
        self.upstream = upstream
        self.count = count
        self._fills: dict[Digest, Fill] = {}

    async def close(self) -> None:
        """Cancel the fills under way."""
        for fill in list(self._fills.values()):
            if fill.task is not None:
                fill.task.cancel()

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
            await self.upstream.blob(repo, digest, fill)
        finally:
            fill.close_file()
