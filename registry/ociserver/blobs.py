"""Blob and upload-session operations of the registry (the push and blob-pull halves of the spec).

Ordering that keeps the store consistent and GC safe (see ``registry_tables``):

1. the upload's bytes are hashed as they arrive and compared with the promised digest;
2. :func:`~registry.ociserver.blob_commit.commit_blob` records the blob row and pins the digest
   (under the writer lock) *before* the bytes are handed to the backend, so a concurrent GC, at any
   grace, cannot remove them;
3. the backend stores the verified file atomically;
4. the pin is dropped, the blob is linked into the repository and the session is forgotten, in one
   transaction (which fails, linking nothing, if a sweep took the blob meanwhile).
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterable
from dataclasses import dataclass
from typing import Any

from registry.catalog import RegistryCatalog
from registry.errors import BlobNotFound, DigestMismatch, SizeInvalid, UploadNotFound
from registry.oci.digest import Digest
from registry.ociserver.blob_commit import commit_blob
from registry.ociserver.names import validate_upload_id
from registry.ociserver.store import RegistryStore
from registry.ociserver.uploads import ChunkOutOfOrder

__all__ = ["BlobService", "ChunkRange"]


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
        """Create a session; returns its id."""
        upload_id = secrets.token_hex(16)
        self.store.spool.create(upload_id)
        await self.store.write(lambda c: RegistryCatalog.create_upload(c, upload_id, repo))
        return upload_id

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

        Raises:
            UploadNotFound, ChunkOutOfOrder (416: the chunk does not start at the session's end),
            SizeInvalid (Content-Range length disagrees with the body), TooLarge, DiskFull.
        """
        spool = self.store.spool
        async with spool.exclusive(upload_id):
            offset = await self.session_offset(repo, upload_id)
            if chunk is not None and chunk.start != offset:
                raise ChunkOutOfOrder(
                    f"chunk starts at {chunk.start} but the upload has {offset} bytes",
                    self.range_headers(repo, upload_id, offset),
                )
            new_offset = await spool.append(upload_id, offset, body)
            if chunk is not None and new_offset != chunk.end + 1:
                spool.discard_hasher(upload_id)
                raise SizeInvalid(f"Content-Range {chunk.start}-{chunk.end} does not match the body's length")
            await self.store.write(lambda c: RegistryCatalog.set_upload_offset(c, upload_id, new_offset))
            return new_offset

    async def finish_upload(self, repo: str, upload_id: str, digest: Digest) -> int:
        """Verify the session's bytes against ``digest``, store the blob, link it, end the session.

        Raises:
            DigestMismatch: the session is kept (the client may retry with the right digest).
            UploadNotFound / DiskFull / StoreError.
        """
        spool = self.store.spool
        async with spool.exclusive(upload_id):
            offset = await self.session_offset(repo, upload_id)
            actual = await spool.digest_hex(upload_id, offset, digest.algorithm)
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

    async def cancel_upload(self, repo: str, upload_id: str) -> None:
        """End a session and delete its data. Raises :class:`UploadNotFound`."""
        await self.session_offset(repo, upload_id)
        async with self.store.spool.exclusive(upload_id):
            await self.store.write(lambda c: RegistryCatalog.delete_upload(c, upload_id))
            self.store.spool.discard(upload_id)
