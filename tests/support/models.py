"""Put models into a library directly through its API (for tests of everything above the store)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from registry.oci import mediatypes as mt
from registry.oci.manifest import Descriptor, Manifest, build_manifest
from registry.oci.name import ModelName
from registry.store.library import Library, PutResult
from registry.store.library.lease import Lease


def make_manifest(
    library: Library,
    *,
    weights: bytes,
    template: str | None = None,
    system: str | None = None,
    params: dict[str, Any] | None = None,
    licenses: Sequence[str] = (),
    config: dict[str, Any] | None = None,
    lease: Lease | None = None,
) -> Manifest:
    """Store the blobs of a model and return its (unstored) manifest."""
    layers: list[Descriptor] = []

    def add(media_type: str, data: bytes) -> None:
        digest, size = library.add_bytes(data, lease=lease)
        layers.append(Descriptor(media_type, digest, size))

    add(mt.OLLAMA_MODEL, weights)
    if template is not None:
        add(mt.OLLAMA_TEMPLATE, template.encode())
    if system is not None:
        add(mt.OLLAMA_SYSTEM, system.encode())
    if params:
        add(mt.OLLAMA_PARAMS, json.dumps(params).encode())
    for text in licenses:
        add(mt.OLLAMA_LICENSE, text.encode())
    cfg = config or {"model_format": "gguf", "model_family": "llama", "model_type": "1M", "file_type": "F32"}
    cfg_bytes = json.dumps(cfg).encode()
    cfg_digest, cfg_size = library.add_bytes(cfg_bytes, lease=lease)
    return build_manifest(Descriptor(mt.DOCKER_CONFIG, cfg_digest, cfg_size), layers)


def make_model(library: Library, name: str, **kwargs: Any) -> PutResult:
    """Store a model's blobs and name it, holding a lease meanwhile (as pull and create do)."""
    with library.lease([], f"test make_model {name}") as lease:
        return library.put_model(ModelName.parse(name), make_manifest(library, lease=lease, **kwargs))
