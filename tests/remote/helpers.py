"""Small helpers for the transfer tests."""

from __future__ import annotations

import hashlib

from registry.oci.name import ModelName
from registry.remote.options import TransferOptions
from registry.remote.pull import pull_model
from registry.store.library import Library, Progress
from tests.support.upstream import Upstream

MODEL_MT = "application/vnd.ollama.image.model"
FAST = TransferOptions(part_size=256 * 1024, backoff_base=0.01, backoff_max=0.05, stall_timeout=2.0)


def weights(size: int, seed: int = 1) -> bytes:
    """Deterministic pseudo-random bytes."""
    return hashlib.shake_256(seed.to_bytes(4, "big")).digest(size)


def serve_model(
    upstream: Upstream, repo: str = "library/tiny", tag: str = "latest", size: int = 1 << 20
) -> bytes:
    """Put a two-layer model on the upstream; returns the weights."""
    data = weights(size)
    upstream.add_model(
        repo, tag, [(MODEL_MT, data), ("application/vnd.ollama.image.template", b"{{ .Prompt }}")]
    )
    return data


def name_on(upstream: Upstream, repo: str = "library/tiny", tag: str = "latest") -> ModelName:
    """The model name on the upstream."""
    return ModelName.parse(f"{upstream.host}/{repo}:{tag}")


async def pull_all(library: Library, name: ModelName, options: TransferOptions = FAST) -> list[Progress]:
    """Run a pull to the end; return every event."""
    return [event async for event in pull_model(library, name, insecure=True, options=options)]
