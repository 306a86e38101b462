"""``push_model``: every blob the registry lacks, then the manifest.

Statuses, like Ollama's: ``retrieving manifest``; per blob ``pushing <12 hex>`` with digest, total
and completed (blobs the registry already has are reported complete at once); ``pushing manifest``;
``success``. Unlike Ollama, the manifest is sent as the exact bytes stored locally (Ollama
re-serialises it), so the pushed manifest has the same digest as the local one, and interrupted
uploads resume (Ollama restarts each blob from zero).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import replace

from registry.oci.digest import Digest
from registry.oci.manifest import Descriptor, Manifest
from registry.oci.name import ModelName
from registry.remote.client import RegistryClient
from registry.remote.options import TransferOptions
from registry.remote.progress_merge import run_with_progress
from registry.remote.pull import pull_order
from registry.remote.ratelimit import RateLimiter
from registry.remote.transport import Transport
from registry.remote.upload import BlobUpload
from registry.store.library import Library, Progress

__all__ = ["push_model"]


async def push_model(
    library: Library,
    name: ModelName,
    *,
    insecure: bool = False,
    options: TransferOptions | None = None,
) -> AsyncIterator[Progress]:
    """Push the local model ``name`` to the registry its name points at, yielding progress.

    Idempotent: pushing again sends only the manifest.

    Raises:
        ModelNotFound (no such local model), InvalidName (http without insecure), Unauthorized,
        Denied, TransferError (after bounded retries).
    """
    opts = options or TransferOptions()
    if insecure and not opts.insecure:
        opts = replace(opts, insecure=True)
    yield Progress("retrieving manifest")
    manifest = await asyncio.to_thread(_local_manifest, library, name)
    mounts = await asyncio.to_thread(_mount_sources, library, name, manifest)
    limiter = RateLimiter(opts.max_rate)
    async with Transport(opts) as transport:
        client = RegistryClient(transport, name, push=True)

        async def job(desc: Descriptor, report: Callable[[int], None]) -> bool:
            return await BlobUpload(client, library, desc, limiter, report, mounts.get(desc.digest)).run()

        async for event in run_with_progress(
            "pushing", pull_order(manifest), job, parallel=opts.parallel_blobs
        ):
            yield event
        yield Progress("pushing manifest")
        await client.put_manifest(manifest)
    yield Progress("success")


def _local_manifest(library: Library, name: ModelName) -> Manifest:
    return library.manifest_of(library.get_model(name))


def _mount_sources(library: Library, name: ModelName, manifest: Manifest) -> dict[Digest, str]:
    """For each blob, another repository on the same registry that (we pulled or pushed) holds it."""
    wanted = {d.digest for d in manifest.blobs()}
    sources: dict[Digest, str] = {}
    for row in library.list_models():
        other = row.name
        if (
            other.host.casefold() != name.host.casefold()
            or other.repository.casefold() == name.repository.casefold()
        ):
            continue
        for desc in library.manifest_of(row).blobs():
            if desc.digest in wanted:
                sources.setdefault(desc.digest, other.repository)
    return sources
