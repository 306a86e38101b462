"""What a model's GGUF says about it, in the shapes Ollama shows: ``details``, ``model_info``,
capabilities, and the config blob fields written by ``create``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from registry.ggufmeta.reader import GgufHeader, read_gguf_header

__all__ = [
    "GgufMetadata",
    "file_type_name",
    "human_number",
    "read_metadata",
]

#: Arrays longer than this are emptied in ``model_info`` (Ollama's /api/show without ``verbose``).
MODEL_INFO_ARRAY_LIMIT = 5
_HIDDEN_KEYS = ("general.name", "tokenizer.chat_template")


def human_number(n: int) -> str:
    """Ollama's ``format.HumanNumber``: 268098176 -> ``268.10M``, 8030261248 -> ``8.0B``."""
    for scale, suffix, places in ((1_000_000_000, "B", 1), (1_000_000, "M", 2)):
        if n >= scale:
            value = n / scale
            return f"{value:.0f}{suffix}" if value.is_integer() else f"{value:.{places}f}{suffix}"
    if n >= 1000:
        return f"{n / 1000:.0f}K"
    return str(n)


def file_type_name(value: int) -> str:
    """The name Ollama shows for ``general.file_type`` (``15`` -> ``Q4_K_M``), or ``unknown``."""
    import gguf

    try:
        name = gguf.LlamaFileType(value).name
    except ValueError:
        return "unknown"
    return name.removeprefix("ALL_").removeprefix("MOSTLY_")


def _guess_file_type(header: GgufHeader) -> str:
    """Without ``general.file_type``: the type of most 2-D tensors."""
    import gguf

    counts = [(n, t) for t, n in header.tensor_types.items()]
    if not counts:
        return "unknown"
    _, ggml_type = max(counts)
    try:
        return gguf.GGMLQuantizationType(ggml_type).name
    except ValueError:
        return "unknown"


@dataclass(frozen=True, slots=True)
class GgufMetadata:
    """The facts ``create`` and ``show`` need from a GGUF file."""

    header: GgufHeader
    architecture: str
    general_type: str
    file_type: str
    parameter_count: int
    context_length: int | None
    embedding_length: int | None
    chat_template: str | None
    tokenizer_model: str | None
    pooling_type: int | None

    @property
    def parameter_size(self) -> str:
        """Ollama's ``parameter_size`` (``model_type`` in the config blob)."""
        return human_number(self.parameter_count)

    @property
    def kind(self) -> str:
        """``model``, ``adapter`` (a LoRA) or ``projector`` (a multimodal projector)."""
        if self.general_type == "adapter":
            return "adapter"
        if self.general_type in ("mmproj", "projector") or self.architecture == "clip":
            return "projector"
        return "model"

    def model_info(self, *, verbose: bool = False) -> dict[str, Any]:
        """``/api/show`` ``model_info``: every key, long arrays emptied (whole with ``verbose``,
        when the header was read with whole arrays), name and chat template removed, plus
        ``general.parameter_count``."""
        out: dict[str, Any] = {}
        for key, value in self.header.kv.items():
            if key in _HIDDEN_KEYS:
                continue
            if (
                not verbose
                and isinstance(value, list)
                and (key in self.header.array_lengths or len(value) > MODEL_INFO_ARRAY_LIMIT)
            ):
                value = []
            out[key] = value
        out["general.parameter_count"] = self.parameter_count
        return dict(sorted(out.items()))

    def tensors(self) -> list[dict[str, Any]]:
        """``/api/show`` ``tensors`` (with ``verbose``): ``{name, type, shape}`` in file order, the
        type as Ollama names it (``Q4_K``, ``F32``)."""
        import gguf

        out = []
        for tensor in self.header.tensors:
            try:
                kind = gguf.GGMLQuantizationType(tensor.ggml_type).name
            except ValueError:
                kind = str(tensor.ggml_type)
            out.append({"name": tensor.name, "type": kind, "shape": list(tensor.shape)})
        return out

    def capabilities(self, go_template: str | None) -> list[str]:
        """What the model can do, as Ollama decides it: ``embedding`` when the GGUF sets a pooling
        type, else ``completion``; ``tools`` and ``insert`` from the template (the Modelfile's Go
        template, or the GGUF's Jinja chat template); ``thinking`` from ``.Thinking`` in the Go
        template; ``vision`` from a vision encoder."""
        caps = ["embedding"] if self.pooling_type else ["completion"]
        if go_template is not None:
            if ".Tools" in go_template:
                caps.append("tools")
            if ".Suffix" in go_template:
                caps.append("insert")
        elif self.chat_template and "tools" in self.chat_template:
            caps.append("tools")
        if any(key.endswith("vision.block_count") for key in self.header.kv):
            caps.append("vision")
        if go_template is not None and ".Thinking" in go_template:
            caps.append("thinking")
        return caps


def _int(kv: dict[str, Any], key: str) -> int | None:
    value = kv.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _str(kv: dict[str, Any], key: str) -> str | None:
    value = kv.get(key)
    return value if isinstance(value, str) else None


def read_metadata(path: Path, label: str | None = None, *, whole_arrays: bool = False) -> GgufMetadata:
    """Read a GGUF file's metadata; error messages start with ``label`` (default: the path).
    ``whole_arrays``: decode every array (for ``show --verbose``), not only the short ones.

    Raises:
        InvalidWeights: not a GGUF, truncated, malformed, or without ``general.architecture``.
        OSError: the file cannot be read.
    """
    from registry.errors import InvalidWeights

    header = read_gguf_header(path, label, whole_arrays=whole_arrays)
    label = label or str(path)
    kv = header.kv
    arch = _str(kv, "general.architecture")
    if not arch:
        raise InvalidWeights(f"{label}: invalid GGUF file: general.architecture is missing")
    file_type = _int(kv, "general.file_type")
    return GgufMetadata(
        header=header,
        architecture=arch,
        general_type=_str(kv, "general.type") or "model",
        file_type=file_type_name(file_type) if file_type is not None else _guess_file_type(header),
        parameter_count=header.parameter_count,
        context_length=_int(kv, f"{arch}.context_length"),
        embedding_length=_int(kv, f"{arch}.embedding_length"),
        chat_template=_str(kv, "tokenizer.chat_template"),
        tokenizer_model=_str(kv, "tokenizer.ggml.model"),
        pooling_type=_int(kv, f"{arch}.pooling_type"),
    )
