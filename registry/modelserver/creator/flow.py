"""``create``: build a model from GGUF files already in the library or from an existing model.

:func:`create_model` is a synchronous generator of :class:`Progress` events with Ollama's statuses
(``parsing GGUF``, ``quantizing F32 model to Q8_0``, ``verifying conversion``, ``using existing
layer sha256:...``, ``creating new layer sha256:...``, ``writing manifest``, ``success``). Async
callers iterate it in a thread.

Guarantees:
- Every digest the new manifest needs is leased from the moment it is known until the model is
  named, so a concurrent rm or prune cannot take it away.
- On any error (or when the consumer stops iterating) no model is named, and the blobs this call
  created and nothing else references are removed at once (what remains is collectable by prune).
- Identical inputs give byte-identical config and manifest (deterministic JSON), so identical digests.
- Creating FROM an existing model reuses its layers (marked ``from``) and replaces only what the
  request sets: template, system (when non-empty), parameters (merged, request keys win), messages
  (when non-empty); licenses are appended.

A model left with no chat template (none in the GGUF, no TEMPLATE) is created, after a
``warning: ...`` status (:data:`NO_TEMPLATE_WARNING`). Quantizing to the type the model already has is
refused (InvalidInput).

Differences from Ollama: a missing base model is an error (no implicit pull); safetensors import is
not supported; no template is auto-detected from the GGUF (the runner uses the GGUF's own chat
template); the architecture is checked against the ``gguf`` package's list of architectures that
llama.cpp implements.
"""

from __future__ import annotations

import json
import os
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from registry.errors import InvalidInput, InvalidWeights, Unsupported
from registry.ggufcompat import plan_translation
from registry.ggufmeta import GgufMetadata, read_metadata
from registry.modelserver.creator.quantizer import quantize
from registry.modelserver.creator.request import CreateRequest
from registry.oci import mediatypes as mt
from registry.oci.digest import Digest, sha256_of
from registry.oci.manifest import Descriptor, build_manifest
from registry.oci.name import ModelName
from registry.store.library import Library
from registry.store.library.progress import Progress

__all__ = ["NO_TEMPLATE_WARNING", "create_model", "known_architectures"]

#: The status a creation reports (and goes on) when the model will have no chat template at all.
NO_TEMPLATE_WARNING = (
    "warning: neither the GGUF nor the Modelfile has a chat template (TEMPLATE): SYSTEM and MESSAGE "
    "will be ignored and prompts sent as plain text; add a TEMPLATE to the Modelfile"
)

_WEIGHT_TYPES = (mt.OLLAMA_MODEL, mt.OLLAMA_ADAPTER, mt.OLLAMA_PROJECTOR)
_NOT_GGUF_SUFFIXES = (".safetensors", ".json", ".jinja", ".model", ".pth", ".pt")


def known_architectures() -> frozenset[str]:
    """Architectures llama.cpp implements (from the ``gguf`` package's table), plus ``clip``."""
    import gguf

    return frozenset(gguf.MODEL_ARCH_NAMES.values()) | {"clip"}


@dataclass
class _Build:
    """The state of one creation: its lease, the layers so far, and what it added to the store."""

    library: Library
    lease: Any
    layers: list[Descriptor] = field(default_factory=list)
    existed: set[Digest] = field(default_factory=set)
    created: list[Digest] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)
    template: str | None = None
    params: dict[str, Any] = field(default_factory=dict)

    def protect(self, digests: list[Digest]) -> None:
        self.lease.add(digests)
        for digest in digests:
            if self.library.has_blob(digest):
                self.existed.add(digest)

    def add_bytes(self, data: bytes) -> tuple[Digest, int]:
        digest = sha256_of(data)
        self.protect([digest])
        if digest not in self.existed:
            self.library.add_bytes(data, digest)
            self.created.append(digest)
        return digest, len(data)

    def add_file(self, path: Path) -> tuple[Digest, int]:
        """Hard-link (or copy) ``path`` into the store, hashing it once. Only for files this build
        produced in the store's ``tmp/`` (a quantizer's output), which nobody else writes."""
        staged = self.library.blobs.stage_file(path, link=True)
        digest, _ = staged.finish()
        try:
            self.protect([digest])
        except BaseException:
            staged.abort()
            raise
        digest, size = self.library.commit(staged)
        if digest not in self.existed:
            self.created.append(digest)
        return digest, size

    def replace(self, media_types: tuple[str, ...], media_type: str, data: bytes) -> None:
        digest, size = self.add_bytes(data)
        self.layers = [layer for layer in self.layers if layer.media_type not in media_types]
        self.layers.append(Descriptor(media_type, digest, size))


def _classify(meta: GgufMetadata) -> str:
    return {"adapter": mt.OLLAMA_ADAPTER, "projector": mt.OLLAMA_PROJECTOR}.get(meta.kind, mt.OLLAMA_MODEL)


def _read_file(build: _Build, name: str, digest: Digest) -> tuple[Path, GgufMetadata]:
    if name.lower().endswith(_NOT_GGUF_SUFFIXES):
        raise Unsupported(
            f"{name}: only GGUF files can be imported (convert safetensors models to GGUF first)"
        )
    path = build.library.blob_path(digest)
    meta = read_metadata(path, name)
    if (
        meta.kind == "model"
        and meta.architecture not in known_architectures()
        and not _ollama_layout(path, name)
    ):
        raise InvalidWeights(
            f"{name}: unknown model architecture '{meta.architecture}': llama.cpp cannot run it"
        )
    return path, meta


def _ollama_layout(path: Path, name: str) -> bool:
    """Whether the GGUF is an Ollama-converted layout the compatibility layer translates for
    llama.cpp (``gptoss``, ``olmo3``, ``qwen25vl``, ...: names llama.cpp does not know as such).

    Raises:
        Unsupported: an Ollama layout llama.cpp cannot run (``mllama``...), naming the file.
    """
    try:
        return plan_translation(path, name) is not None
    except Unsupported as err:
        raise Unsupported(f"{name}: {err}") from err


def _from_files(build: _Build, request: CreateRequest) -> Iterator[Progress]:
    yield Progress("parsing GGUF")
    build.protect(list(request.files.values()))
    models = 0
    for name, digest in sorted(request.files.items()):
        path, meta = _read_file(build, name, digest)
        media_type = _classify(meta)
        models += media_type == mt.OLLAMA_MODEL
        build.layers.append(Descriptor(media_type, digest, path.stat().st_size))
    if models != 1:
        raise InvalidWeights(f"expected exactly one GGUF model among the files, found {models}")


def _from_model(build: _Build, base_text: str) -> None:
    name = ModelName.parse(base_text)
    info = build.library.model_info(name)
    short = name.display_shortest
    build.protect([layer.digest for layer in info.manifest.layers])
    build.layers = [
        Descriptor(layer.media_type, layer.digest, layer.size, {**layer.extra, "from": short})
        for layer in info.manifest.layers
    ]
    build.config = dict(info.config)
    build.template = info.template
    build.params = dict(info.parameters)
    if info.model_path is None:
        raise InvalidWeights(f"model '{base_text}' has no weights layer")


def _model_meta(build: _Build) -> tuple[int, GgufMetadata]:
    for index, layer in enumerate(build.layers):
        if layer.media_type == mt.OLLAMA_MODEL:
            return index, read_metadata(build.library.blob_path(layer.digest))
    raise InvalidWeights("the model has no weights layer")


def _quantize(build: _Build, target: str) -> Iterator[Progress]:
    index, meta = _model_meta(build)
    if meta.file_type == target:
        raise InvalidInput(f"the model is already {target}: nothing to quantize (leave out -q / quantize)")
    source = build.library.blob_path(build.layers[index].digest)
    dest = build.library.layout.tmp_dir / f"quantize-{os.getpid()}-{os.urandom(6).hex()}.gguf"
    try:
        yield from quantize(source, dest, meta.file_type, target)
        yield Progress("verifying conversion")
        read_metadata(dest, f"the {target} conversion")
        digest, size = build.add_file(dest)
    finally:
        dest.unlink(missing_ok=True)
    build.layers[index] = Descriptor(mt.OLLAMA_MODEL, digest, size)


def _apply_request(build: _Build, request: CreateRequest) -> None:
    for name, digest in sorted(request.adapters.items()):
        path, meta = _read_file(build, name, digest)
        if meta.kind != "adapter":
            raise InvalidWeights(f"{name}: not a LoRA adapter (general.type is '{meta.general_type}')")
        build.protect([digest])
        build.layers.append(Descriptor(mt.OLLAMA_ADAPTER, digest, path.stat().st_size))
    if request.template is not None:
        build.template = request.template
        build.replace((mt.OLLAMA_TEMPLATE, mt.OLLAMA_PROMPT), mt.OLLAMA_TEMPLATE, request.template.encode())
    if request.system:
        build.replace((mt.OLLAMA_SYSTEM,), mt.OLLAMA_SYSTEM, request.system.encode())
    present = {layer.digest for layer in build.layers}
    for text in request.licenses:
        digest, size = build.add_bytes(text.encode())
        if digest not in present:
            build.layers.append(Descriptor(mt.OLLAMA_LICENSE, digest, size))
            present.add(digest)
    if request.parameters:
        build.params = {**build.params, **request.parameters}
        data = json.dumps(build.params, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        build.replace((mt.OLLAMA_PARAMS,), mt.OLLAMA_PARAMS, data.encode())
    if request.messages:
        data = json.dumps(list(request.messages), separators=(",", ":"), ensure_ascii=False)
        build.replace((mt.OLLAMA_MESSAGES,), mt.OLLAMA_MESSAGES, data.encode())


def _config(build: _Build, meta: GgufMetadata, request: CreateRequest) -> dict[str, Any]:
    families = [meta.architecture]
    for layer in build.layers:
        if layer.media_type == mt.OLLAMA_PROJECTOR:
            extra = read_metadata(build.library.blob_path(layer.digest)).architecture
            families += [extra] if extra not in families else []
    config: dict[str, Any] = {
        "model_format": "gguf",
        "model_family": meta.architecture,
        "model_families": families,
        "model_type": meta.parameter_size,
        "file_type": meta.file_type,
    }
    for key in ("renderer", "parser", "requires"):
        if build.config.get(key):
            config[key] = build.config[key]
    if request.requires:
        config["requires"] = request.requires
    config["architecture"] = "amd64"
    config["os"] = "linux"
    config["rootfs"] = {"type": "layers", "diff_ids": [str(layer.digest) for layer in build.layers]}
    if meta.context_length is not None:
        config["context_length"] = meta.context_length
    if meta.embedding_length is not None:
        config["embedding_length"] = meta.embedding_length
    caps = meta.capabilities(build.template)
    if any(layer.media_type == mt.OLLAMA_PROJECTOR for layer in build.layers) and "vision" not in caps:
        caps.append("vision")
    config["capabilities"] = caps
    config["model_info"] = meta.model_info()
    return config


def _statuses(build: _Build) -> Iterator[Progress]:
    for layer in build.layers:
        verb = "using existing" if layer.digest in build.existed else "creating new"
        yield Progress(f"{verb} layer {layer.digest}")


def _build(build: _Build, name: ModelName, request: CreateRequest) -> Iterator[Progress]:
    if request.files:
        yield from _from_files(build, request)
    elif request.from_:
        _from_model(build, request.from_)
    else:
        raise Unsupported("neither 'from' or 'files' was specified")
    if request.quantize:
        yield from _quantize(build, request.quantize)
    _apply_request(build, request)
    _, meta = _model_meta(build)
    if not build.template and not meta.chat_template:
        yield Progress(NO_TEMPLATE_WARNING)
    config = json.dumps(_config(build, meta, request), separators=(",", ":"), ensure_ascii=False).encode()
    config_digest, config_size = build.add_bytes(config)
    yield from _statuses(build)
    manifest = build_manifest(Descriptor(mt.DOCKER_CONFIG, config_digest, config_size), build.layers)
    yield Progress("writing manifest")
    previous = build.library.find_model(name)
    old = [] if previous is None else [d.digest for d in build.library.manifest_of(previous).blobs()]
    result = build.library.put_model(name, manifest)
    if result.previous is not None:
        build.library.remove_unused([result.previous, *old])


def create_model(
    library: Library, name: ModelName, request: CreateRequest
) -> Generator[Progress, None, None]:
    """Create (or replace) the model ``name`` as ``request`` says; see the module docstring.

    Raises (while iterating):
        ModelNotFound: the ``from`` model does not exist. BlobNotFound: a ``files`` digest is not
        in the library. InvalidWeights: not a GGUF, truncated, unknown architecture, unsupported
        quantization source, llama.cpp failure. Unsupported: safetensors. InvalidName.
    """
    build: _Build | None = None
    try:
        with library.lease([], f"create {name.display_shortest}") as lease:
            build = _Build(library, lease)
            yield from _build(build, name, request)
    except BaseException:
        if build is not None and build.created:
            library.remove_unused(build.created)
        raise
    yield Progress("success")
