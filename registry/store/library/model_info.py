"""What ``show`` knows about a model, read from its manifest's layers and config blob."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any

from registry.bounded_json import loads_bounded
from registry.errors import BlobNotFound
from registry.modelfile.writer import render_modelfile
from registry.oci import mediatypes
from registry.oci.digest import Digest
from registry.oci.manifest import Manifest
from registry.store.blobs import BlobStore
from registry.store.catalog import ModelRow

__all__ = [
    "ModelInfo",
    "capabilities",
    "config_of",
    "details_of",
    "list_entry",
    "modelfile_of",
    "read_config_json",
    "read_model_info",
    "rfc3339",
    "show_response",
]

_TEXT_LIMIT = 8 << 20

#: Config, parameters and messages nested deeper than this are treated as not JSON.
MAX_CONFIG_NESTING = 100


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """A model's parts as ``show``, the Modelfile writer and the scheduler need them."""

    row: ModelRow
    manifest: Manifest
    config: dict[str, Any]
    model_path: Path | None
    adapter_paths: tuple[Path, ...]
    projector_paths: tuple[Path, ...]
    template: str | None
    system: str | None
    parameters: dict[str, Any]
    licenses: tuple[str, ...]
    messages: tuple[dict[str, Any], ...]
    parent_model: str | None
    unknown_layers: tuple[str, ...] = field(default=())
    model_digest: Digest | None = None
    """The digest of the GGUF weights layer (None when the model has none)."""

    @property
    def details(self) -> dict[str, Any]:
        """Ollama's ``details`` object: format, family, families, parameter_size, quantization_level."""
        families = self.config.get("model_families")
        family = self.config.get("model_family", "")
        return {
            "parent_model": self.parent_model or "",
            "format": self.config.get("model_format", "gguf"),
            "family": family,
            "families": families if families else ([family] if family else None),
            "parameter_size": self.config.get("model_type", ""),
            "quantization_level": self.config.get("file_type", ""),
        }


def _text(store: BlobStore, digest: Digest) -> str:
    return store.read_bytes(digest, _TEXT_LIMIT).decode("utf-8", errors="replace")


def config_of(row: ModelRow) -> dict[str, Any]:
    """The model's config blob as the catalog keeps a copy of it (``{}`` when absent or not JSON)."""
    if not row.manifest.config_json:
        return {}
    loaded = _json_or(row.manifest.config_json, {})
    return loaded if isinstance(loaded, dict) else {}


def _json_or(text: str, default: Any) -> Any:
    """``text`` decoded as JSON nested at most :data:`MAX_CONFIG_NESTING` deep, else ``default``
    (a layer written by another tool, or by a hostile registry, never raises here)."""
    try:
        return loads_bounded(text, MAX_CONFIG_NESTING, strict_numbers=False) if text else default
    except ValueError:
        return default


@dataclass
class _LayerParts:
    """What a manifest's layers say, collected in order: later layers of a single-valued kind win
    (as in Ollama); list-valued kinds accumulate; unknown media types are remembered."""

    store: BlobStore
    model_path: Path | None = None
    model_digest: Digest | None = None
    parent: str | None = None
    template: str | None = None
    system: str | None = None
    adapters: list[Path] = field(default_factory=list)
    projectors: list[Path] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)
    licenses: list[str] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)

    def add(self, kind: str, digest: Digest, extra: Mapping[str, Any]) -> None:
        """Take in one layer of media type ``kind``."""
        store = self.store
        if kind == mediatypes.OLLAMA_MODEL:
            self.model_path = store.path(digest)
            self.model_digest = digest
            self.parent = str(extra.get("from") or "") or self.parent
        elif kind == mediatypes.OLLAMA_ADAPTER:
            self.adapters.append(store.path(digest))
        elif kind == mediatypes.OLLAMA_PROJECTOR:
            self.projectors.append(store.path(digest))
        elif kind in (mediatypes.OLLAMA_TEMPLATE, mediatypes.OLLAMA_PROMPT):
            self.template = _text(store, digest)
        elif kind == mediatypes.OLLAMA_SYSTEM:
            self.system = _text(store, digest)
        elif kind == mediatypes.OLLAMA_LICENSE:
            self.licenses.append(_text(store, digest))
        elif kind == mediatypes.OLLAMA_PARAMS:
            loaded = _json_or(_text(store, digest), {})
            if isinstance(loaded, dict):
                self.params.update(loaded)
        elif kind == mediatypes.OLLAMA_MESSAGES:
            loaded = _json_or(_text(store, digest), [])
            if isinstance(loaded, list):
                self.messages.extend(m for m in loaded if isinstance(m, dict))
        else:
            self.unknown.append(kind)


def read_model_info(store: BlobStore, row: ModelRow, manifest: Manifest) -> ModelInfo:
    """Collect a model's parts. Later layers of a single-valued kind win (as in Ollama)."""
    parts = _LayerParts(store)
    for layer in manifest.layers:
        parts.add(layer.media_type, layer.digest, layer.extra)
    return ModelInfo(
        row=row,
        manifest=manifest,
        config=config_of(row),
        model_path=parts.model_path,
        adapter_paths=tuple(parts.adapters),
        projector_paths=tuple(parts.projectors),
        template=parts.template,
        system=parts.system,
        parameters=parts.params,
        licenses=tuple(parts.licenses),
        messages=tuple(parts.messages),
        parent_model=parts.parent,
        unknown_layers=tuple(parts.unknown),
        model_digest=parts.model_digest,
    )


def read_config_json(store: BlobStore, manifest: Manifest) -> str | None:
    """The text of ``manifest``'s config blob when it is JSON of at most 1 MiB (what the catalog
    records beside the manifest), else None.

    Raises:
        BlobNotFound: the config blob is not in the store.
        OSError: the blob cannot be read.
    """
    assert manifest.config is not None
    if manifest.config.size > 1 << 20:
        return None
    try:
        raw = store.read_bytes(manifest.config.digest, 1 << 20)
    except BlobNotFound:
        raise BlobNotFound(f"config blob {manifest.config.digest} not found") from None
    try:
        text = raw.decode()
        loads_bounded(text, MAX_CONFIG_NESTING, strict_numbers=False)
    except ValueError:  # not UTF-8, not JSON, or too deep (JsonTooDeep)
        return None
    return text


def rfc3339(at: float, tz: tzinfo | None = None) -> str:
    """A UNIX time as RFC 3339 in local time (or ``tz``) with offset, as Go's ``time.Time`` marshals."""
    return datetime.fromtimestamp(at, tz or datetime.now().astimezone().tzinfo).isoformat()


def details_of(row: ModelRow) -> dict[str, Any]:
    """Ollama's ``details`` object from the catalog's copy of the config blob (no file reads)."""
    config = config_of(row)
    family = config.get("model_family", "")
    families = config.get("model_families") or ([family] if family else None)
    return {
        "parent_model": "",
        "format": config.get("model_format", "gguf"),
        "family": family,
        "families": families,
        "parameter_size": config.get("model_type", ""),
        "quantization_level": config.get("file_type", ""),
    }


def list_entry(row: ModelRow, tz: tzinfo | None = None) -> dict[str, Any]:
    """One ``/api/tags`` entry (``ListModelResponse``) for a model; ``broken`` only when it is."""
    short = row.name.display_shortest
    return {
        "name": short,
        "model": short,
        "modified_at": rfc3339(row.modified_at, tz),
        "size": row.manifest.total_size,
        "digest": row.manifest.digest.hex,
        "details": details_of(row),
        **({"broken": True} if row.broken else {}),  # ours: a blob it needs failed verification
    }


def capabilities(info: ModelInfo, model_info: dict[str, Any] | None = None) -> list[str]:
    """What the model can do: from the config's ``capabilities`` when recorded (``create`` records
    them), else inferred: ``embedding`` instead of ``completion`` when the GGUF sets a pooling type,
    ``tools`` from ``.Tools``, ``insert`` from ``.Suffix``, ``vision`` from a projector or a vision
    encoder, ``thinking`` from ``.Thinking`` (where Ollama finds the thinking tags) or the gpt-oss
    family. ``model_info`` (the GGUF's keys, read by the caller) stands in for a config that does
    not record them (a pulled Ollama model's config)."""
    recorded = info.config.get("capabilities")
    if isinstance(recorded, list) and all(isinstance(c, str) for c in recorded):
        return list(recorded)
    gguf_kv = info.config.get("model_info") or model_info
    kv: dict[str, Any] = gguf_kv if isinstance(gguf_kv, dict) else {}
    arch = kv.get("general.architecture", "")
    caps = ["embedding"] if kv.get(f"{arch}.pooling_type") else ["completion"]
    template = info.template or ""
    if ".Tools" in template:
        caps.append("tools")
    if ".Suffix" in template:
        caps.append("insert")
    if info.projector_paths or any(str(k).endswith("vision.block_count") for k in kv):
        caps.append("vision")
    if ".Thinking" in template or info.config.get("model_family") in ("gptoss", "gpt-oss"):
        caps.append("thinking")
    return caps


def modelfile_of(info: ModelInfo) -> str:
    """The Modelfile that ``show --modelfile`` and ``/api/show`` print; it parses back to the model."""
    return render_modelfile(
        from_line=str(info.model_path) if info.model_path else info.row.name.display_shortest,
        short_name=info.row.name.display_shortest,
        adapters=[str(p) for p in info.adapter_paths],
        projectors=[str(p) for p in info.projector_paths],
        template=info.template,
        system=info.system,
        parameters=info.parameters,
        licenses=info.licenses,
        messages=info.messages,
        requires=info.config.get("requires"),
    )


def show_response(info: ModelInfo, *, verbose: bool = False) -> dict[str, Any]:
    """The ``/api/show`` answer (``ShowResponse``) for a model: what ``ollama-py show`` renders, from
    the server or from the local store alike. With ``verbose`` (Ollama's ``show -v``),
    ``model_info`` holds every array whole (the tokenizer's tokens, scores and types) and
    ``tensors`` lists the weights' tensors; it reads the whole GGUF header (a fraction of a second
    for a 262k-token vocabulary). Without, arrays over 5 items are emptied and there are no
    ``tensors``."""
    from registry.modelfile.writer import format_parameters

    tensors: list[dict[str, Any]] | None = None
    model_info = info.config.get("model_info")
    if verbose:
        model_info, tensors = _gguf_verbose(info.model_path)
    elif not isinstance(model_info, dict) or not model_info:
        model_info = _gguf_model_info(info.model_path)
    response = {
        "license": "\n".join(info.licenses),
        "modelfile": modelfile_of(info),
        "parameters": format_parameters(info.parameters),
        "template": info.template or "",
        "system": info.system or "",
        "details": info.details,
        "messages": list(info.messages),
        "model_info": model_info,
        "capabilities": capabilities(info, model_info),
        "modified_at": rfc3339(info.row.modified_at),
        **({"projector_info": projector} if (projector := _projector_info(info)) else {}),
    }
    if tensors is not None:
        response["tensors"] = tensors
    return response


def _gguf_verbose(path: Path | None) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """``model_info`` with every array whole, and the tensor list, read from the weights; empty
    when there are no weights or they cannot be read."""
    if path is None:
        return {}, []
    from registry.errors import InvalidWeights
    from registry.ggufmeta import read_metadata

    try:
        meta = read_metadata(path, whole_arrays=True)
    except (InvalidWeights, OSError):
        return {}, []
    return meta.model_info(verbose=True), meta.tensors()


def _projector_info(info: ModelInfo) -> dict[str, Any]:
    """The first projector's GGUF keys (Ollama's ``projector_info``); ``{}`` when none."""
    return _gguf_model_info(info.projector_paths[0]) if info.projector_paths else {}


def _gguf_model_info(path: Path | None) -> dict[str, Any]:
    """``model_info`` read from the weights when the config does not record it (a model made by
    another tool); ``{}`` when there are no weights or they cannot be read."""
    if path is None:
        return {}
    from registry.errors import InvalidWeights
    from registry.ggufmeta import read_metadata

    try:
        return read_metadata(path).model_info()
    except (InvalidWeights, OSError):
        return {}
