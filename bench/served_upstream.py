"""A loopback blob server for the resume and memory benches (the test suite's fault-injecting
upstream, serving one large blob from memory and counting the bytes it sends)."""

from __future__ import annotations

import hashlib
import logging

from tests.support.upstream import Upstream

__all__ = ["serve_blob"]


async def serve_blob(
    data: bytes | bytearray, repo: str = "bench/big", tag: str = "v1"
) -> tuple[Upstream, str]:
    """Start an upstream serving ``data`` as the only layer of ``repo:tag``; returns it and the hex."""
    logging.getLogger("aiohttp.server").setLevel(logging.CRITICAL)  # killed clients are expected
    upstream = await Upstream().start()
    hexd = hashlib.sha256(data).hexdigest()
    upstream.add_model(
        repo, tag, [("application/vnd.ollama.image.model", b"")], config=b'{"model_format":"gguf"}'
    )
    # Replace the placeholder layer by the big blob without copying it.
    upstream.blobs[hexd] = data  # type: ignore[assignment]
    upstream.repo_blobs[repo].add(hexd)
    import json

    manifest = json.loads(upstream.manifests[(repo, tag)])
    manifest["layers"][0].update({"digest": f"sha256:{hexd}", "size": len(data)})
    upstream.manifests[(repo, tag)] = json.dumps(manifest).encode()
    return upstream, hexd
