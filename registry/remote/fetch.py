"""Single-request reads by URL: a manifest's exact bytes, a blob streamed into a caller's sink and
verified on the way. For callers that are not pulling into the library (the registry server's
pull-through mirror); ``pull``/``download`` build on :class:`RegistryClient` instead.

Both go through :class:`Transport` (its auth, token cache and credential-safe redirects) and hash
with the download's :class:`HashWorker` (a dedicated thread fed in order, overlapping the network).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from registry.errors import BlobNotFound, DigestMismatch, TransferError
from registry.oci.digest import Digest
from registry.remote.client import MANIFEST_ACCEPT
from registry.remote.transport import Transport, converted_errors
from registry.store.blobs.hashing import HashWorker

__all__ = ["BlobSink", "FetchedManifest", "RegistryAnswered", "fetch_blob", "fetch_manifest"]

_BLOCK = 1 << 20


class RegistryAnswered(TransferError):
    """The registry answered ``status``: neither success nor 404 (e.g. 500, or a 401 that auth
    could not answer). Carries the status so a caller can word its own error."""

    def __init__(self, status: int, what: str) -> None:
        super().__init__(f"{what}: the registry answered {status}")
        self.status = status


@dataclass(frozen=True, slots=True)
class FetchedManifest:
    """A manifest as the registry sent it: exact bytes and its ``Content-Type`` (None when absent)."""

    content: bytes
    media_type: str | None


async def fetch_manifest(
    transport: Transport, url: str, *, scope: str, max_bytes: int | None, accept: str = MANIFEST_ACCEPT
) -> FetchedManifest | None:
    """GET the manifest at ``url`` (``/v2/<repo>/manifests/<reference>``). Returns None on 404.

    The body is read up to ``max_bytes + 1`` bytes (a caller's parser refuses what is longer; None:
    all of it); its digest is the caller's to compute and check (the reference may pin one).

    Raises:
        RegistryAnswered: any status but 200 and 404.
        TransferError: the network failed. Unauthorized: auth could not be obtained.
    """
    headers = {"Accept": accept}
    async with transport.request("GET", url, scope=scope, headers=headers) as resp:
        if resp.status == 404:
            return None
        if resp.status != 200:
            raise RegistryAnswered(resp.status, f"GET manifest {url}")
        async with converted_errors(f"GET manifest {url}"):
            content = await resp.content.read(-1 if max_bytes is None else max_bytes + 1)
        media_type = resp.headers.get("Content-Type", "").split(";", 1)[0] or None
    return FetchedManifest(content, media_type)


class BlobSink:
    """Where :func:`fetch_blob` puts a blob's bytes, in order. Subclass and override."""

    async def start(self, length: int | None) -> None:
        """Called once, on a 2xx answer, with its Content-Length (None: not sent, e.g. chunked)."""

    async def write(self, offset: int, chunks: list[bytes]) -> None:
        """Store ``chunks`` (about 1 MiB together) at ``offset``; they are hashed after this returns."""
        raise NotImplementedError

    def read_at(self, offset: int, size: int) -> bytes:
        """Read back ``size`` stored bytes at ``offset`` (called on the hash thread; rarely)."""
        raise NotImplementedError


async def fetch_blob(transport: Transport, url: str, *, scope: str, digest: Digest, sink: BlobSink) -> int:
    """GET the blob at ``url`` (redirects to a CDN followed without credentials), hand its body to
    ``sink`` in order, and verify it: returns its size only when the bytes hash to ``digest`` and
    their count is the announced Content-Length. The sink may hold bytes that fail the check: the
    caller must discard them when this raises.

    Raises:
        BlobNotFound: 404. RegistryAnswered: another status but 2xx.
        TransferError: the network failed or the body broke off. Unauthorized: no auth.
        DigestMismatch: the bytes are not ``digest``'s (or not the announced length).
    """
    async with transport.request("GET", url, scope=scope) as resp:
        if resp.status == 404:
            raise BlobNotFound(f"GET blob {digest}: the registry does not have it")
        if not 200 <= resp.status < 300:
            raise RegistryAnswered(resp.status, f"GET blob {digest}")
        await sink.start(resp.content_length)
        worker = HashWorker(sink.read_at, algorithm=digest.algorithm)
        try:
            received = await _stream(resp.content.readany, worker, sink, f"GET blob {digest}")
            actual = await asyncio.to_thread(worker.finish, received)
        except BaseException:
            await asyncio.to_thread(worker.stop)
            raise
        length = resp.content_length
    if actual != digest or (length is not None and received != length):
        raise DigestMismatch(f"the registry sent {received} bytes that are not {digest}")
    return received


async def _stream(read: Callable[[], Awaitable[bytes]], worker: HashWorker, sink: BlobSink, what: str) -> int:
    """Copy the body to the sink in blocks of about 1 MiB, queueing each for the hash thread."""
    offset = 0
    block: list[bytes] = []
    block_len = 0
    async with converted_errors(what):
        while chunk := await read():
            block.append(chunk)
            block_len += len(chunk)
            if block_len >= _BLOCK:
                offset = await _write(worker, sink, offset, block)
                block, block_len = [], 0
    if block:
        offset = await _write(worker, sink, offset, block)
    return offset


async def _write(worker: HashWorker, sink: BlobSink, offset: int, block: list[bytes]) -> int:
    await sink.write(offset, block)
    if not worker.try_feed(offset, block):
        await asyncio.to_thread(worker.wait_for_room)
        worker.try_feed(offset, block)  # if not queued, the hash thread reads it back from the sink
    return offset + sum(len(c) for c in block)
