"""``pull_model``: manifest, then every blob (resumable, parallel, verified), then the name.

Statuses, exactly Ollama's: ``pulling manifest``; per blob ``pulling <12 hex>`` with digest, total
and completed (blobs already present are reported at once as complete); ``verifying sha256 digest``;
``writing manifest``; ``removing unused layers`` (only when the name pointed at another manifest
whose layers nothing else needs, and pruning is on); ``success``.

Manifest last: the model name is written only after every blob is committed and verified, so it
appears in ``list`` complete or not at all. The blobs are leased for the whole pull, so a concurrent
``rm``/``prune`` cannot delete a blob between its commit and the manifest.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator, Callable
from dataclasses import replace

from registry.errors import TransferError, Unsupported
from registry.ggufcompat.unrunnable import family_refusal
from registry.oci import mediatypes
from registry.oci.digest import Digest
from registry.oci.manifest import Descriptor, Manifest
from registry.oci.name import ModelName
from registry.remote.client import RegistryClient
from registry.remote.download import BlobDownload
from registry.remote.mirrors import open_manifest
from registry.remote.options import TransferOptions
from registry.remote.progress_merge import Job, run_with_progress
from registry.remote.ratelimit import RateLimiter
from registry.remote.transport import Transport
from registry.store.library import Library, Progress

__all__ = ["pull_model"]

#: Leases expire after an hour if their holder dies; a live pull renews its own this often.
LEASE_RENEW_SECONDS = 600.0


def pull_order(manifest: Manifest) -> list[Descriptor]:
    """Layers then the config (Ollama's order), each digest once."""
    seen: dict[str, Descriptor] = {}
    for desc in [*manifest.layers, *([manifest.config] if manifest.config else [])]:
        seen.setdefault(str(desc.digest), desc)
    return list(seen.values())


def refuse_unrunnable(name: ModelName, manifest: Manifest) -> None:
    """Refuse, before any byte is downloaded, a model whose weights no GGUF engine can run: tensor
    layers (safetensors/MLX, Ollama's ``application/vnd.ollama.image.tensor``) and no GGUF layer.

    Raises:
        Unsupported: one line naming the model, the reason and what to do instead.
    """
    kinds = {layer.media_type for layer in manifest.layers}
    if mediatypes.OLLAMA_TENSOR in kinds and mediatypes.OLLAMA_MODEL not in kinds:
        raise Unsupported(
            f"{name.display_shortest} cannot be pulled: its weights are safetensors/MLX tensor layers "
            f"({mediatypes.OLLAMA_TENSOR}), which no GGUF engine such as llama.cpp runs; pull a GGUF "
            "tag of this model instead (e.g. one ending in -q4_K_M), or 'ollama-py create' one from a GGUF file"
        )


#: Configs larger than this are not read ahead (Ollama's are a few hundred bytes).
MAX_CONFIG_PEEK = 1 << 20


async def refuse_unrunnable_family(
    library: Library, client: RegistryClient, name: ModelName, manifest: Manifest
) -> None:
    """Read the (small) config blob, from the store when it is there, and refuse, before any
    weights are downloaded, a model whose ``model_family`` llama.cpp cannot run (Ollama's mllama,
    glmocr; see :mod:`registry.ggufcompat.unrunnable`). A config that is missing, large or not
    JSON, or a failed request, refuses nothing: the weights decide at load time.

    Raises:
        Unsupported: one line naming the model, the reason and what to do instead.
    """
    config = manifest.config
    if config is None or not 0 < config.size <= MAX_CONFIG_PEEK:
        return
    if await asyncio.to_thread(library.has_blob, config.digest):
        data: bytes | None = await asyncio.to_thread(library.blob_path(config.digest).read_bytes)
    else:
        try:
            data = await client.get_small_blob(config.digest, MAX_CONFIG_PEEK)
        except TransferError:
            return  # a look ahead only: the download proper retries, the load refuses if need be
    try:
        parsed = json.loads(data) if data else None
    except ValueError:
        return
    reason = family_refusal(parsed) if isinstance(parsed, dict) else None
    if reason:
        raise Unsupported(f"{name.display_shortest} cannot be pulled: {reason}")


async def pull_model(
    library: Library,
    name: ModelName,
    *,
    insecure: bool = False,
    options: TransferOptions | None = None,
    prune: bool = True,
) -> AsyncIterator[Progress]:
    """Pull ``name`` from its registry into ``library``, yielding progress.

    Idempotent: pulling a model already present transfers nothing but the manifest. Resumes
    interrupted downloads (also those of a killed process).

    Raises:
        ModelNotFound ("pull model manifest: file does not exist"), InvalidName (http without
        insecure), Unauthorized, Denied, TransferError (after bounded retries), DigestMismatch
        (nothing committed), DiskFull (partial data kept), InvalidManifest, Unsupported (an index).
    """
    opts = options or TransferOptions()
    if insecure and not opts.insecure:
        opts = replace(opts, insecure=True)
    limiter = RateLimiter(opts.max_rate)
    yield Progress("pulling manifest")
    async with Transport(opts) as transport:
        client, manifest = await open_manifest(transport, name, opts.mirrors)
        refuse_unrunnable(name, manifest)
        await refuse_unrunnable_family(library, client, name, manifest)
        previous = await asyncio.to_thread(_previous_blobs, library, name)
        wanted = pull_order(manifest)
        lease = library.lease([d.digest for d in manifest.blobs()], f"pull {name} pid={os.getpid()}")
        handle = await asyncio.to_thread(lease.__enter__)
        renewer = asyncio.create_task(_renew_forever(handle.renew))
        try:
            async for event in run_with_progress(
                "pulling", wanted, _downloader(client, library, limiter), parallel=opts.parallel_blobs
            ):
                yield event
            yield Progress("verifying sha256 digest")
            yield Progress("writing manifest")
            await asyncio.to_thread(library.put_model, name, manifest)
            new = {d.digest for d in manifest.blobs()} | {manifest.digest}
            unused = [d for d in previous if d not in new]
            if unused and prune:
                yield Progress("removing unused layers")
                await asyncio.to_thread(library.remove_unused, unused)
        finally:
            renewer.cancel()
            await asyncio.gather(renewer, return_exceptions=True)
            await asyncio.to_thread(lease.__exit__, None, None, None)
    yield Progress("success")


async def _renew_forever(renew: Callable[[], None], every: float = LEASE_RENEW_SECONDS) -> None:
    """Keep the pull's lease alive however long the transfer takes."""
    while True:
        await asyncio.sleep(every)
        await asyncio.to_thread(renew)


def _downloader(client: RegistryClient, library: Library, limiter: RateLimiter) -> Job:
    async def job(desc: Descriptor, report: Callable[[int], None]) -> bool:
        return await BlobDownload(client, library, desc, limiter, report).run()

    return job


def _previous_blobs(library: Library, name: ModelName) -> list[Digest]:
    """The manifest and blobs ``name`` points at now (candidates for "removing unused layers"),
    whatever digest a pinned ``name@sha256:...`` asks for."""
    row = library.find_model(replace(name, digest=None))
    if row is None:
        return []
    old = library.manifest_of(row)
    return [row.manifest.digest, *(d.digest for d in old.blobs())]
