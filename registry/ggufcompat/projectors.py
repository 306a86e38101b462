"""The vision projector inside a monolithic Ollama blob, extracted as the mmproj GGUF libmtmd loads.

Ollama's converter writes some vision models (Gemma 3, Qwen 2.5-VL, Mistral 3, Qwen 3-VL, ...) as
one GGUF holding the text model and the vision tower (``v.*``) with its projector (``mm.*``) under
the text architecture's keys. Ollama's llama.cpp shim gives the clip loader a translated view of
the same file (``translate_clip_metadata`` in ``llama/compat/llama-ollama-compat.cpp``, commit
fb30760996871fa9460115c753afd2c60d4ab0f7). ollama-py cannot patch libmtmd, so it writes that view
as a file: the ``clip.*`` keys llama.cpp's mmproj loader reads, and only the ``v.*``/``mm.*``
tensors, renamed; the tensor data is shared with the blob by :func:`~registry.ggufcompat.rewrite.
write_translated` (``copy_file_range``/reflink), exactly as the text translation.

:func:`plan_projector` answers, from the header alone:

- None: the blob holds no vision tower (a text model, or a plain mmproj);
- a :class:`ProjectorPlan` with a ``translation`` to write;
- a :class:`ProjectorPlan` with ``refusal`` only: the blob has a vision tower that needs a
  tensor-data repack Ollama's shim does at load time (Mistral 3's RoPE permutation of Q/K, Qwen 3-VL's
  QKV merge and patch-embedding split, ...) or is incomplete; the model then runs text-only and a
  request with images is refused with that reason.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from registry.ggufcompat.edits import HeaderEdits
from registry.ggufcompat.raw_header import read_raw_header
from registry.ggufcompat.rewrite import Translation

__all__ = ["ProjectorPlan", "plan_projector"]


@dataclass(frozen=True, slots=True)
class ProjectorPlan:
    """What to do with a blob's embedded vision tower: ``translation`` (the mmproj to write) or,
    when it cannot be extracted, ``refusal`` (why, in words a user can read)."""

    translation: Translation | None
    refusal: str | None = None


#: Ollama's Gemma 3 tensor names -> llama.cpp's (``kGemma3ClipRenames``). ``mlp.fc1`` becomes
#: ``ffn_down`` as in the shim: llama.cpp's loader swaps a Gemma 3 FFN whose "down" is shaped
#: like an up projection.
_GEMMA3_RENAMES = (
    ("v.patch_embedding", "v.patch_embd"),
    ("v.position_embedding", "v.position_embd"),
    ("v.post_layernorm", "v.post_ln"),
    (".layer_norm1", ".ln1"),
    (".layer_norm2", ".ln2"),
    (".attn_output", ".attn_out"),
    (".mlp.fc1", ".ffn_down"),
    (".mlp.fc2", ".ffn_up"),
    ("mm.mm_input_projection", "mm.input_projection"),
    ("mm.mm_soft_emb_norm", "mm.soft_emb_norm"),
)
_GEMMA3_BLOCK = ("attn_q", "attn_k", "attn_v", "attn_out", "ln1", "ln2", "ffn_up", "ffn_down")
#: Architectures whose vision tower only Ollama's load-time tensor repacks make loadable.
_NEEDS_REPACK = {
    "mistral3": "the Q/K RoPE permutation of its vision attention and a zero-filled image-break embedding",
    "qwen3vl": "the merge of its vision Q/K/V tensors and the split of its patch embedding",
    "qwen3vlmoe": "the merge of its vision Q/K/V tensors and the split of its patch embedding",
    "qwen35": "the merge of its vision Q/K/V tensors and the split of its patch embedding",
    "qwen35moe": "the merge of its vision Q/K/V tensors and the split of its patch embedding",
    "gemma4": "the repack of its vision and audio towers",
    "llama4": "the repack of its vision projector",
    "deepseekocr": "the repack of its SAM and vision towers",
    "nemotron_h_omni": "the repack of its vision projector",
    "glmocr": "the repack of its vision projector",
    "mllama": "Ollama's own cross-attention vision engine",
}


def _clip_common(
    e: HeaderEdits, projector_type: str, mean: tuple[float, ...], std: tuple[float, ...]
) -> None:
    if not e.has("clip.vision.image_mean"):
        e.set_f32_array("clip.vision.image_mean", mean)
    if not e.has("clip.vision.image_std"):
        e.set_f32_array("clip.vision.image_std", std)
    if not e.has("clip.has_vision_encoder"):
        e.set_bool("clip.has_vision_encoder", True)
    e.set_string("clip.projector_type", projector_type)
    e.set_string("general.architecture", "clip")


def _copy(e: HeaderEdits, arch: str, pairs: tuple[tuple[str, str], ...]) -> None:
    for source, dest in pairs:
        e.copy_key(f"{arch}.{source}", f"clip.vision.{dest}")


def _gemma3(e: HeaderEdits) -> str | None:
    """``handle_gemma3_clip``: keys under ``clip.vision``, SigLIP names, mean/std 0.5. Returns
    what is missing when the tower is incomplete (None when complete)."""
    _copy(
        e,
        "gemma3",
        (
            ("vision.block_count", "block_count"),
            ("vision.embedding_length", "embedding_length"),
            ("vision.feed_forward_length", "feed_forward_length"),
            ("vision.image_size", "image_size"),
            ("vision.patch_size", "patch_size"),
            ("vision.attention.head_count", "attention.head_count"),
            ("vision.attention.layer_norm_epsilon", "attention.layer_norm_epsilon"),
            ("embedding_length", "projection_dim"),
        ),
    )
    e.inject_f32("clip.vision.attention.layer_norm_epsilon", 1e-6)
    if not e.has("clip.use_gelu"):
        e.set_bool("clip.use_gelu", True)
    _clip_common(e, "gemma3", (0.5, 0.5, 0.5), (0.5, 0.5, 0.5))
    for old, new in _GEMMA3_RENAMES:
        e.rename_tensors_containing(old, new)
    blocks = int(e.number("clip.vision.block_count") or 0)
    required = [
        "v.patch_embd.weight",
        "v.position_embd.weight",
        "mm.input_projection.weight",
        "mm.soft_emb_norm.weight",
    ]
    required += [f"v.blk.{i}.{name}.weight" for i in range(blocks) for name in _GEMMA3_BLOCK]
    missing = [name for name in required if e.tensor(name) is None]
    patch = e.tensor("v.patch_embd.weight")
    if blocks == 0:
        return "gemma3.vision.block_count"
    if patch is not None and len(patch.shape) != 4:
        return "a 4-D v.patch_embedding.weight"
    keys = ("embedding_length", "feed_forward_length", "image_size", "patch_size", "attention.head_count")
    missing += [f"gemma3.vision.{k}" for k in keys if not e.has(f"clip.vision.{k}")]
    return ", ".join(missing[:4]) if missing else None


def _qwen25vl(e: HeaderEdits) -> str | None:
    """``handle_qwen25vl_clip``: keys under ``clip.vision``, merger tensors as ``mm.0``/``mm.2``."""
    _copy(
        e,
        "qwen25vl",
        (
            ("vision.attention.head_count", "attention.head_count"),
            ("vision.attention.layer_norm_epsilon", "attention.layer_norm_epsilon"),
            ("vision.block_count", "block_count"),
            ("vision.embedding_length", "embedding_length"),
            ("vision.num_channels", "num_channels"),
            ("vision.patch_size", "patch_size"),
            ("vision.spatial_merge_size", "spatial_merge_size"),
            ("vision.window_size", "window_size"),
            ("embedding_length", "projection_dim"),
        ),
    )
    up = e.tensor("v.blk.0.ffn_up.weight")
    if up is not None and len(up.shape) == 2:
        e.inject_u32("clip.vision.feed_forward_length", up.shape[1])
    full = e.array("qwen25vl.vision.fullatt_block_indexes")
    if full is not None and full.count >= 1:
        e.set_u32("clip.vision.n_wa_pattern", int(full.numbers()[0]) + 1)
    e.inject_u32("clip.vision.n_wa_pattern", 8)
    e.inject_u32("clip.vision.image_size", 560)
    if not e.has("clip.use_silu"):
        e.set_bool("clip.use_silu", True)
    mean, std = (0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711)
    _clip_common(e, "qwen2.5vl_merger", mean, std)
    for old, new in (
        ("v.merger.ln_q.weight", "v.post_ln.weight"),
        ("v.merger.mlp.0.weight", "mm.0.weight"),
        ("v.merger.mlp.0.bias", "mm.0.bias"),
        ("v.merger.mlp.2.weight", "mm.2.weight"),
        ("v.merger.mlp.2.bias", "mm.2.bias"),
        ("v.patch_embd_0.weight", "v.patch_embd.weight"),
        ("v.patch_embd_1.weight", "v.patch_embd.weight.1"),
    ):
        e.rename_tensor(old, new)
    missing = [n for n in ("v.patch_embd.weight", "mm.0.weight", "mm.2.weight") if e.tensor(n) is None]
    return ", ".join(missing) if missing else None


_EXTRACTORS: dict[str, Callable[[HeaderEdits], str | None]] = {"gemma3": _gemma3, "qwen25vl": _qwen25vl}


def plan_projector(path: Path, label: str | None = None) -> ProjectorPlan | None:
    """The mmproj to extract from the monolithic blob at ``path`` (see the module docstring).

    Raises:
        InvalidWeights: not a readable GGUF. OSError: the file cannot be read.
    """
    header = read_raw_header(path, label)
    e = HeaderEdits(header)
    arch = e.architecture
    if arch == "clip" or not e.any_tensor_with_prefix("v."):
        return None
    if arch in _NEEDS_REPACK:
        return ProjectorPlan(
            None,
            f"the vision tower inside this {arch} GGUF needs {_NEEDS_REPACK[arch]} (which Ollama's "
            "patched llama.cpp does while loading): ollama-py runs this model text-only",
        )
    extract = _EXTRACTORS.get(arch)
    if extract is None:
        return None
    missing = extract(e)
    if missing:
        return ProjectorPlan(
            None, f"the vision tower inside this {arch} GGUF is incomplete (no {missing}): text-only"
        )
    e.keep_only_tensors("v.", "mm.")
    e.keep_only_keys("general.", "clip.")
    kvs, tensors = e.result()
    notes = (f"the {arch} vision tower extracted as a llama.cpp mmproj ({len(tensors)} tensors)",)
    return ProjectorPlan(Translation(header, kvs, tensors, notes))
