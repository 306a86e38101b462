"""Blob and upload-session operations of the registry (the push and blob-pull halves of the spec).

Ordering that keeps the store consistent and GC safe (see ``registry_tables``):

1. the upload's bytes are hashed as they arrive; a chunk is all or nothing (a rejected or broken
   chunk leaves the session at its last accepted offset, its file cut back to it), and the closing
   step cuts the file to exactly the accepted bytes before comparing their hash with the promised
   digest, so the file handed to the backend is exactly the bytes that were hashed;
2. :func:`~registry.ociserver.blob_commit.commit_blob` records the blob row and pins the digest
   (under the writer lock) *before* the bytes are handed to the backend, so a concurrent GC, at any
   grace, cannot remove them;
3. the backend stores the verified file atomically (a stored copy of another size is replaced);
4. the pin is dropped, the blob is linked into the repository and the session is forgotten, in one
   transaction (which fails, linking nothing, if a sweep took the blob meanwhile).

Sessions that cannot go on are ended at once, data and all: a single-request upload (POST
``?digest=``, which gives the client no Location to retry) that fails for any reason, and any upload
that fills the disk (its spool data would otherwise keep the disk full until the stale-upload purge).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from typing import Any

from registry.errors import BlobNotFound, DigestMismatch, DiskFull, UploadNotFound
from registry.oci.digest import Digest
from registry.ociserver.blob_commit import commit_blob
from registry.ociserver.store import RegistryStore
from registry.ociserver.upload_files import UploadDataLost
from registry.ociserver.upload_ids import new_upload_id, validate_upload_id
from registry.ociserver.uploads import ChunkOutOfOrder
from registry.store.catalog import RegistryCatalog

__all__ = ["BlobService", "ChunkRange"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ChunkRange:
    """A parsed ``Content-Range: <start>-<end>`` (inclusive) of an upload chunk."""

    start: int
    end: int


class BlobService:
    """Blob reads, links and upload sessions over one :class:`RegistryStore`."""

    def __init__(self, store: RegistryStore, upload_location: str = "/v2/{repo}/blobs/uploads/{id}") -> None:
        self.store = store
        self._location = upload_location

    def upload_location(self, repo: str, upload_id: str) -> str:
        """The Location of a session (relative URL)."""
        return self._location.format(repo=repo, id=upload_id)

    # -- reads -------------------------------------------------------------------------------------

    async def linked_size(self, repo: str, digest: Digest) -> int | None:
        """Size of a blob visible in ``repo``, or None."""
        return await self.store.read(lambda c: RegistryCatalog.repo_blob_size(c, repo, digest))

    async def require(self, repo: str, digest: Digest) -> int:
        """Size of a blob visible in ``repo``. Raises :class:`BlobNotFound`."""
        size = await self.linked_size(repo, digest)
        if size is None:
            raise BlobNotFound("blob unknown to registry", detail={"digest": str(digest)})
        return size

    async def delete(self, repo: str, digest: Digest) -> None:
        """Unlink a blob from ``repo`` (bytes go at the next GC). Raises :class:`BlobNotFound`."""
        if not await self.store.write(lambda c: RegistryCatalog.unlink_blob(c, repo, digest)):
            raise BlobNotFound("blob unknown to registry", detail={"digest": str(digest)})

    async def mount(self, repo: str, digest: Digest, from_repo: str | None) -> bool:
        """Link a blob into ``repo`` from ``from_repo`` (or, without one, from any repo). True on success."""

        def run(conn: Any) -> bool:
            # A link (in ``from_repo`` or anywhere) means the bytes are stored and no sweep has
            # tombstoned them: copying it in this writer-locked transaction is safe against GC.
            if from_repo is not None:
                size = RegistryCatalog.repo_blob_size(conn, from_repo, digest)
            else:
                size = RegistryCatalog.linked_blob_size(conn, digest)
            return size is not None and RegistryCatalog.link_blob(conn, repo, digest)

        return await self.store.write(run)

    # -- upload sessions ---------------------------------------------------------------------------

    async def start_upload(self, repo: str) -> str:
        """Create a session; returns its id.

        Raises:
            DiskFull / StoreError / CatalogError: nothing of the session is left behind.
        """
        upload_id = new_upload_id()
        self.store.spool.create(upload_id)
        try:
            await self.store.write(lambda c: RegistryCatalog.create_upload(c, upload_id, repo))
        except BaseException:
            self.store.spool.discard(upload_id)
            raise
        return upload_id

    async def upload_whole(self, repo: str, digest: Digest, body: AsyncIterable[bytes | bytearray]) -> int:
        """A single-request upload (POST ``?digest=``): store ``body`` as ``digest``; returns its size.

        The client holds no Location for the session it uses, so on any failure the session and its
        data are deleted before the error propagates.

        Raises:
            DigestMismatch, SizeInvalid, TooLarge, DiskFull, StoreError.
        """
        upload_id = await self.start_upload(repo)
        try:
            await self.write_chunk(repo, upload_id, None, body)
            return await self.finish_upload(repo, upload_id, digest)
        except BaseException:
            await self._end_session(upload_id)
            raise

    async def session_offset(self, repo: str, upload_id: str) -> int:
        """Bytes a session holds. Raises :class:`UploadNotFound` (also for another repo's session)."""
        validate_upload_id(upload_id)
        row = await self.store.read(lambda c: RegistryCatalog.get_upload(c, upload_id))
        if row is None or row.repo != repo:
            raise UploadNotFound("blob upload unknown to registry", detail={"id": upload_id})
        return row.offset

    def range_headers(self, repo: str, upload_id: str, offset: int) -> dict[str, str]:
        """Location, Range and Docker-Upload-UUID for a session at ``offset``."""
        headers = {"Location": self.upload_location(repo, upload_id), "Docker-Upload-UUID": upload_id}
        headers["Range"] = f"0-{max(offset - 1, 0)}"
        return headers

    async def write_chunk(
        self, repo: str, upload_id: str, chunk: ChunkRange | None, body: AsyncIterable[bytes | bytearray]
    ) -> int:
        """Append a chunk (``chunk`` None = stream mode: append wherever the session is).

        All or nothing: on any error the session stays at its last accepted offset (its data cut back
        to it), except that a full disk or lost data end the session (see :meth:`_end_when_broken`).

        Raises:
            UploadNotFound, ChunkOutOfOrder (416: the chunk does not start at the session's end),
            SizeInvalid (Content-Range length disagrees with the body), TooLarge, DiskFull.
        """
        spool = self.store.spool
        async with self._end_when_broken(upload_id), spool.exclusive(upload_id):
            offset = await self.session_offset(repo, upload_id)
            if chunk is not None and chunk.start != offset:
                raise ChunkOutOfOrder(
                    f"chunk starts at {chunk.start} but the upload has {offset} bytes",
                    self.range_headers(repo, upload_id, offset),
                )
            length = None if chunk is None else chunk.end - chunk.start + 1
            new_offset = await spool.append(upload_id, offset, body, length)
            try:
                await self.store.write(lambda c: RegistryCatalog.set_upload_offset(c, upload_id, new_offset))
            except BaseException:  # the catalog did not take the chunk: neither does the file
                await spool.cut_back(upload_id, offset)
                raise
            return new_offset

    async def finish_upload(self, repo: str, upload_id: str, digest: Digest) -> int:
        """Verify the session's bytes against ``digest``, store the blob, link it, end the session.

        What is stored is exactly the session's accepted bytes, the ones hashed (see
        :meth:`UploadSpool.seal`); a stored copy of another size (left by a bug or an older version)
        is replaced by the verified one.

        Raises:
            DigestMismatch: the session is kept (the client may retry with the right digest).
            UploadNotFound / DiskFull / StoreError (a full disk or lost data end the session).
        """
        spool = self.store.spool
        async with self._end_when_broken(upload_id), spool.exclusive(upload_id):
            offset = await self.session_offset(repo, upload_id)
            actual = await spool.seal(upload_id, offset, digest.algorithm)
            if actual != digest.hex:
                raise DigestMismatch(
                    "provided digest did not match uploaded content",
                    detail={"expected": str(digest), "actual": f"{digest.algorithm}:{actual}"},
                )
            await commit_blob(
                self.store,
                repo,
                digest,
                offset,
                spool.path(upload_id),
                holder=upload_id,
                also=lambda c: RegistryCatalog.delete_upload(c, upload_id),
            )
            spool.discard(upload_id)
        await self.store.backend.warm(digest)
        return offset

    @contextlib.asynccontextmanager
    async def _end_when_broken(self, upload_id: str) -> AsyncIterator[None]:
        """End the session (data and all) when the body raises :class:`DiskFull` (its spool data would
        otherwise keep the disk full until the stale-upload purge) or :class:`UploadDataLost` (it
        cannot go on). The client starts again."""
        try:
            yield
        except UploadDataLost:
            await self._end_session(upload_id)
            raise
        except DiskFull as err:
            await self._end_session(upload_id)
            raise DiskFull(f"{err}; the upload was ended to free its space: start it again") from err

    async def _end_session(self, upload_id: str) -> None:
        """Forget a session and delete its data. Never raises (best effort: purge finishes the job)."""
        try:
            async with self.store.spool.exclusive(upload_id):
                self.store.spool.discard(upload_id)  # first: frees the space a catalog write may need
                await self.store.write(lambda c: RegistryCatalog.delete_upload(c, upload_id))
        except Exception:
            log.exception("could not end upload session %s; the stale-upload purge will", upload_id)

    async def cancel_upload(self, repo: str, upload_id: str) -> None:
        """End a session and delete its data. Raises :class:`UploadNotFound`."""
        await self.session_offset(repo, upload_id)
        async with self.store.spool.exclusive(upload_id):
            await self.store.write(lambda c: RegistryCatalog.delete_upload(c, upload_id))
            self.store.spool.discard(upload_id)
