"""What a model is, read from the bytes the registry holds: the config blob, the GGUF header of the
model layer, and the template, system, params and license layers.

Only bytes already stored are read: on a mirror, a layer not fetched yet is shown as "not cached",
never fetched from the upstream for a page view. Blobs are immutable, so facts are cached by digest
(on the :class:`FactReader`, which the application owns).
"""

from __future__ import annotations

import asyncio
import json
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

from registry.errors import OllamaPyError
from registry.oci import mediatypes
from registry.oci.digest import Digest
from registry.ociserver.web.summaries import TEXT_LAYERS, BlobRef, ModelFacts, TextLayer
from registry.store.blobs.backend import BlobBackend

__all__ = ["FactReader"]

#: Config blobs larger than this are not read (Ollama's are a few hundred bytes).
_MAX_CONFIG = 1 << 20
#: Text layers are shown up to this many bytes.
_MAX_TEXT = 256 << 10
#: Digests whose facts are remembered.
_CACHE_ENTRIES = 512


class FactReader:
    """Reads (and remembers) model facts and text layers from one blob backend."""

    def __init__(self, backend: BlobBackend) -> None:
        self._backend = backend
        self._facts: OrderedDict[tuple[str, str], ModelFacts] = OrderedDict()

    async def facts(self, blobs: Sequence[BlobRef]) -> ModelFacts:
        """Facts from a manifest's config and model layer (GGUF first, the config fills gaps).

        Never raises for bad or missing bytes: unknown facts are None.
        """
        config = next((b for b in blobs if _is_config(b.media_type)), None)
        model = next((b for b in blobs if b.media_type == mediatypes.OLLAMA_MODEL), None)
        key = (config.digest if config else "", model.digest if model else "")
        hit = self._facts.get(key)
        if hit is not None:
            self._facts.move_to_end(key)
            return hit
        cfg = await self._config(config) if config is not None else {}
        gguf = await self._gguf(model) if model is not None else {}
        facts = _merge(cfg, gguf)
        if (config is None or cfg) and (model is None or gguf):  # only complete answers are kept
            self._facts[key] = facts
            while len(self._facts) > _CACHE_ENTRIES:
                self._facts.popitem(last=False)
        return facts

    async def texts(self, blobs: Sequence[BlobRef]) -> tuple[TextLayer, ...]:
        """The template, system, params and license layers as text (None when not stored here)."""
        out = []
        for blob in blobs:
            kind = TEXT_LAYERS.get(blob.media_type)
            if kind is None:
                continue
            data = await self._read(blob, _MAX_TEXT)
            text = None if data is None else data.decode("utf-8", errors="replace")
            out.append(
                TextLayer(kind, blob.digest, blob.size, text, data is not None and blob.size > _MAX_TEXT)
            )
        return tuple(out)

    async def _read(self, blob: BlobRef, limit: int) -> bytes | None:
        """The first ``limit`` bytes of a stored blob, or None when it is not stored (or unreadable)."""
        try:
            digest = Digest.parse_oci(blob.digest)
            size = await self._backend.stat(digest)
            if size is None:
                return None
            parts = [part async for part in self._backend.open_range(digest, 0, min(size, limit))]
        except (OllamaPyError, OSError):
            return None
        return b"".join(parts)

    async def _config(self, blob: BlobRef) -> dict[str, Any]:
        if blob.size > _MAX_CONFIG:
            return {}
        data = await self._read(blob, _MAX_CONFIG)
        try:
            doc = json.loads(data) if data else {}
        except (ValueError, RecursionError):
            return {}
        return doc if isinstance(doc, dict) else {}

    async def _gguf(self, blob: BlobRef) -> dict[str, Any]:
        """GGUF facts of a model layer stored in a local file (remote drivers: none)."""
        try:
            digest = Digest.parse_oci(blob.digest)
        except OllamaPyError:
            return {}
        path = self._backend.local_path(digest)
        if path is None:
            return {}
        return await asyncio.to_thread(_read_gguf, path)


def _read_gguf(path: Any) -> dict[str, Any]:
    try:
        from registry.ggufmeta import read_metadata

        meta = read_metadata(path, label="model layer")
    except (OllamaPyError, OSError, ImportError):
        return {}
    return {
        "architecture": meta.architecture,
        "parameter_count": meta.parameter_count,
        "parameter_size": meta.parameter_size,
        "quantization": meta.file_type,
        "context_length": meta.context_length,
    }


def _is_config(media_type: str) -> bool:
    return media_type in (mediatypes.DOCKER_CONFIG, mediatypes.OCI_CONFIG) or media_type.endswith(
        "config.v1+json"
    )


def _text(doc: dict[str, Any], key: str) -> str | None:
    value = doc.get(key)
    return value if isinstance(value, str) and value else None


def _merge(cfg: dict[str, Any], gguf: dict[str, Any]) -> ModelFacts:
    families = cfg.get("model_families")
    family = _text(cfg, "model_family")
    if family is None and isinstance(families, list) and families and isinstance(families[0], str):
        family = families[0]
    count = gguf.get("parameter_count")
    return ModelFacts(
        format=_text(cfg, "model_format"),
        family=family or gguf.get("architecture"),
        architecture=gguf.get("architecture") or family,
        parameter_size=gguf.get("parameter_size") or _text(cfg, "model_type"),
        parameter_count=count if isinstance(count, int) else None,
        quantization=_text(cfg, "file_type") or gguf.get("quantization"),
        context_length=gguf.get("context_length"),
    )
