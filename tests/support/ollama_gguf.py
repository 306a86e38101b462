"""Tiny GGUFs written the way Ollama's converter writes them, for the compatibility layer's tests.

Each ``write_ollama_<arch>`` writes a small, real model (random weights, a few hundred tokens,
1-2 layers) with the keys, tensor names and layout Ollama's converter (``convert/`` in
github.com/ollama/ollama) gives that architecture, so that plain llama.cpp refuses it exactly as
it refuses the published blob, and ollama-py's translation makes it load and generate. Tensors
are written in name order, as Ollama's GGUF writer sorts them, so that the embedded vision
tensors sit between text tensors (the translator must then lay the data out again).
Deterministic: same arguments, same bytes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from tests.support.tiny_gguf import _vocab

__all__ = [
    "GEMMA3_VISION_IMAGE_TOKENS",
    "write_ollama_embeddinggemma",
    "write_ollama_gemma3",
    "write_ollama_gemma3_vision",
    "write_ollama_llama_like",
    "write_ollama_olmo3",
    "write_synthetic",
]

_N_EMBD, _N_HEAD, _N_HEAD_KV, _N_FF = 64, 4, 2, 128
_HEAD_DIM = _N_EMBD // _N_HEAD


def _writer(path: Path, arch: str, extra_tokens: int, rows: int | None = None) -> tuple[Any, int]:
    """A GGUFWriter with the tiny SPM vocabulary (padded with filler tokens to ``rows`` when given)
    plus ``extra_tokens`` multimodal tokens that the embedding does not have (as Ollama's gemma3
    blobs); returns (writer, embedding rows)."""
    import gguf

    writer = gguf.GGUFWriter(path, arch)
    tokens, scores, types = _vocab()
    if rows is not None and rows > len(tokens):
        filler = rows - len(tokens)
        tokens += [f"<filler_{i}>" for i in range(filler)]
        scores += [-1000.0] * filler
        types += [1] * filler
    rows = len(tokens)
    tokens += [f"<image_soft_token_{i}>" for i in range(extra_tokens)]
    scores += [0.0] * extra_tokens
    types += [4] * extra_tokens
    writer.add_name(f"tiny-ollama-{arch}")
    writer.add_file_type(0)
    writer.add_tokenizer_model("llama")
    writer.add_token_list(tokens)
    writer.add_token_scores(scores)
    writer.add_token_types(types)
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2)
    writer.add_unk_token_id(0)
    writer.add_add_bos_token(True)
    writer.add_add_eos_token(False)
    return writer, rows


def _finish(writer: Any, tensors: dict[str, np.ndarray[Any, Any]]) -> None:
    for name in sorted(tensors):
        writer.add_tensor(name, tensors[name].astype(np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def _gemma_blocks(
    rng: np.random.Generator, blocks: int, n_embd: int = _N_EMBD, n_ff: int = _N_FF
) -> dict[str, np.ndarray[Any, Any]]:
    def w(*shape: int) -> np.ndarray[Any, Any]:
        return rng.standard_normal(shape, dtype=np.float32) * np.float32(0.05)

    head_dim = n_embd // _N_HEAD
    kv = head_dim * _N_HEAD_KV
    out: dict[str, np.ndarray[Any, Any]] = {}
    for i in range(blocks):
        p = f"blk.{i}."
        out |= {
            p + "attn_norm.weight": np.ones(n_embd, np.float32),
            p + "attn_q.weight": w(n_embd, n_embd),
            p + "attn_k.weight": w(kv, n_embd),
            p + "attn_v.weight": w(kv, n_embd),
            p + "attn_q_norm.weight": np.ones(head_dim, np.float32),
            p + "attn_k_norm.weight": np.ones(head_dim, np.float32),
            p + "attn_output.weight": w(n_embd, n_embd),
            p + "post_attention_norm.weight": np.ones(n_embd, np.float32),
            p + "ffn_norm.weight": np.ones(n_embd, np.float32),
            p + "ffn_gate.weight": w(n_ff, n_embd),
            p + "ffn_up.weight": w(n_ff, n_embd),
            p + "ffn_down.weight": w(n_embd, n_ff),
            p + "post_ffw_norm.weight": np.ones(n_embd, np.float32),
        }
    return out


def _gemma_keys(writer: Any, prefix: str, blocks: int, n_embd: int = _N_EMBD, n_ff: int = _N_FF) -> None:
    writer.add_uint32(f"{prefix}.context_length", 256)
    writer.add_uint32(f"{prefix}.embedding_length", n_embd)
    writer.add_uint32(f"{prefix}.block_count", blocks)
    writer.add_uint32(f"{prefix}.feed_forward_length", n_ff)
    writer.add_uint32(f"{prefix}.attention.head_count", _N_HEAD)
    writer.add_uint32(f"{prefix}.attention.head_count_kv", _N_HEAD_KV)
    writer.add_uint32(f"{prefix}.attention.key_length", n_embd // _N_HEAD)
    writer.add_uint32(f"{prefix}.attention.value_length", n_embd // _N_HEAD)
    writer.add_uint32(f"{prefix}.attention.sliding_window", 64)


def write_ollama_gemma3(
    path: Path, *, blocks: int = 6, seed: int = 0, n_embd: int = _N_EMBD, rows: int | None = None
) -> Path:
    """Gemma 3 as Ollama's converter writes the 4B+ models (6 blocks by default: llama.cpp's Gemma 3
    makes every sixth layer global, and a model with no global layer trips an assertion when its
    context shifts): no ``layer_norm_rms_epsilon``, rope
    bases under ``rope.global``/``rope.local``, ``mm.tokens_per_image``, multimodal tokens past
    the embedding's rows, and the vision tower (``v.*``) and projector (``mm.*``) in the blob.
    ``n_embd`` and ``rows`` (vocabulary) scale it up for benchmarks (the embedding holds most bytes)."""
    rng = np.random.default_rng(seed)
    writer, rows = _writer(path, "gemma3", extra_tokens=5, rows=rows)
    _gemma_keys(writer, "gemma3", blocks, n_embd)
    writer.add_float32("gemma3.rope.global.freq_base", 1000000.0)
    writer.add_float32("gemma3.rope.local.freq_base", 10000.0)
    writer.add_uint32("gemma3.mm.tokens_per_image", 4)
    writer.add_uint32("gemma3.vision.block_count", 1)
    writer.add_uint32("gemma3.vision.embedding_length", 32)
    tensors = _gemma_blocks(rng, blocks, n_embd)
    tensors["token_embd.weight"] = rng.standard_normal((rows, n_embd), dtype=np.float32) * np.float32(0.05)
    tensors["output_norm.weight"] = np.ones(n_embd, np.float32)
    tensors["v.patch_embedding.weight"] = rng.standard_normal((32, 48)).astype(np.float32)
    tensors["v.blk.0.attn_q.weight"] = rng.standard_normal((32, 32)).astype(np.float32)
    tensors["mm.mm_input_projection.weight"] = rng.standard_normal((n_embd, 32)).astype(np.float32)
    tensors["mm.mm_soft_emb_norm.weight"] = np.ones(32, np.float32)
    _finish(writer, tensors)
    return path


def write_ollama_embeddinggemma(path: Path, *, seed: int = 0) -> Path:
    """EmbeddingGemma as Ollama writes it: architecture ``gemma3``, the sentence-transformers
    projection as ``dense.0``/``dense.1`` and the final norm as ``norm.weight``."""
    rng = np.random.default_rng(seed)
    writer, rows = _writer(path, "gemma3", extra_tokens=0)
    _gemma_keys(writer, "gemma3", 6)
    writer.add_float32("gemma3.attention.layer_norm_rms_epsilon", 1e-6)
    writer.add_float32("gemma3.rope.freq_base", 1000000.0)
    writer.add_bool("gemma3.attention.causal", False)
    writer.add_uint32("gemma3.pooling_type", 1)
    tensors = _gemma_blocks(rng, 6)
    tensors["token_embd.weight"] = (rng.standard_normal((rows, _N_EMBD)) * 0.05).astype(np.float32)
    tensors["norm.weight"] = np.ones(_N_EMBD, np.float32)
    tensors["dense.0.weight"] = (rng.standard_normal((3 * _N_EMBD, _N_EMBD)) * 0.05).astype(np.float32)
    tensors["dense.1.weight"] = (rng.standard_normal((_N_EMBD, 3 * _N_EMBD)) * 0.05).astype(np.float32)
    _finish(writer, tensors)
    return path


def write_ollama_olmo3(path: Path, *, blocks: int = 2, seed: int = 0) -> Path:
    """OLMo 3 as Ollama writes it: architecture ``olmo3`` (llama.cpp knows the same model as
    olmo2) with olmo2's tensors and the sliding-window keys."""
    rng = np.random.default_rng(seed)
    writer, rows = _writer(path, "olmo3", extra_tokens=0)

    def w(*shape: int) -> np.ndarray[Any, Any]:
        return (rng.standard_normal(shape) * 0.05).astype(np.float32)

    writer.add_uint32("olmo3.context_length", 256)
    writer.add_uint32("olmo3.embedding_length", _N_EMBD)
    writer.add_uint32("olmo3.block_count", blocks)
    writer.add_uint32("olmo3.feed_forward_length", _N_FF)
    writer.add_uint32("olmo3.attention.head_count", _N_HEAD)
    writer.add_uint32("olmo3.attention.head_count_kv", _N_HEAD)
    writer.add_float32("olmo3.attention.layer_norm_rms_epsilon", 1e-6)
    writer.add_float32("olmo3.rope.freq_base", 500000.0)
    writer.add_uint32("olmo3.attention.sliding_window", 64)
    tensors = {
        "token_embd.weight": w(rows, _N_EMBD),
        "output_norm.weight": np.ones(_N_EMBD, np.float32),
        "output.weight": w(rows, _N_EMBD),
    }
    for i in range(blocks):
        p = f"blk.{i}."
        tensors |= {
            p + "attn_q.weight": w(_N_EMBD, _N_EMBD),
            p + "attn_k.weight": w(_N_EMBD, _N_EMBD),
            p + "attn_v.weight": w(_N_EMBD, _N_EMBD),
            p + "attn_output.weight": w(_N_EMBD, _N_EMBD),
            p + "attn_q_norm.weight": np.ones(_N_EMBD, np.float32),
            p + "attn_k_norm.weight": np.ones(_N_EMBD, np.float32),
            p + "post_attention_norm.weight": np.ones(_N_EMBD, np.float32),
            p + "ffn_gate.weight": w(_N_FF, _N_EMBD),
            p + "ffn_up.weight": w(_N_FF, _N_EMBD),
            p + "ffn_down.weight": w(_N_EMBD, _N_FF),
            p + "post_ffw_norm.weight": np.ones(_N_EMBD, np.float32),
        }
    _finish(writer, tensors)
    return path


def write_synthetic(
    path: Path,
    arch: str,
    keys: dict[str, Any],
    tensors: dict[str, tuple[int, ...]],
    *,
    tokens: list[str] | None = None,
) -> Path:
    """A GGUF with exactly ``keys`` (ints as uint32, floats as float32, lists of ints as int32
    arrays, lists of str as string arrays) and F32 tensors of the given numpy shapes filled with
    their index, for checks of the translated header and data layout (not loadable models)."""
    import gguf

    writer = gguf.GGUFWriter(path, arch)
    if tokens is not None:
        writer.add_token_list(tokens)
    for key, value in keys.items():
        if isinstance(value, bool):
            writer.add_bool(key, value)
        elif isinstance(value, int):
            writer.add_uint32(key, value)
        elif isinstance(value, float):
            writer.add_float32(key, value)
        elif isinstance(value, list) and value and isinstance(value[0], str):
            writer.add_array(key, value)
        elif isinstance(value, list):
            writer.add_key_value(key, value, gguf.GGUFValueType.ARRAY, sub_type=gguf.GGUFValueType.INT32)
        else:
            writer.add_string(key, str(value))
    for i, name in enumerate(sorted(tensors)):
        writer.add_tensor(name, np.full(tensors[name], float(i), np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def write_ollama_llama_like(
    path: Path,
    arch: str,
    keys: dict[str, Any],
    *,
    n_embd: int = _N_EMBD,
    qk_norm: bool = False,
    qkv_bias: bool = False,
    vision: bool = True,
    blocks: int = 2,
    seed: int = 0,
) -> Path:
    """A llama-shaped text model under ``arch`` with Ollama's extra ``keys`` and, with ``vision``,
    the vision tower and projector inside the blob (Ollama's monolithic mistral3, qwen2.5-VL and
    qwen3-VL blobs)."""
    rng = np.random.default_rng(seed)
    writer, rows = _writer(path, arch, extra_tokens=0)

    def w(*shape: int) -> np.ndarray[Any, Any]:
        return rng.standard_normal(shape, dtype=np.float32) * np.float32(0.05)

    head_dim = n_embd // _N_HEAD
    kv = head_dim * _N_HEAD_KV
    for key, value in {
        "context_length": 256,
        "embedding_length": n_embd,
        "block_count": blocks,
        "feed_forward_length": _N_FF,
        "attention.head_count": _N_HEAD,
        "attention.head_count_kv": _N_HEAD_KV,
        "rope.dimension_count": head_dim,
    }.items():
        writer.add_uint32(f"{arch}.{key}", value)
    writer.add_float32(f"{arch}.attention.layer_norm_rms_epsilon", 1e-6)
    writer.add_float32(f"{arch}.rope.freq_base", 10000.0)
    for key, value in keys.items():
        if isinstance(value, float):
            writer.add_float32(key, value)
        elif isinstance(value, list):
            writer.add_array(key, value)
        else:
            writer.add_uint32(key, value)
    tensors = {
        "token_embd.weight": w(rows, n_embd),
        "output_norm.weight": np.ones(n_embd, np.float32),
        "output.weight": w(rows, n_embd),
    }
    for i in range(blocks):
        p = f"blk.{i}."
        tensors |= {
            p + "attn_norm.weight": np.ones(n_embd, np.float32),
            p + "attn_q.weight": w(n_embd, n_embd),
            p + "attn_k.weight": w(kv, n_embd),
            p + "attn_v.weight": w(kv, n_embd),
            p + "attn_output.weight": w(n_embd, n_embd),
            p + "ffn_norm.weight": np.ones(n_embd, np.float32),
            p + "ffn_gate.weight": w(_N_FF, n_embd),
            p + "ffn_up.weight": w(_N_FF, n_embd),
            p + "ffn_down.weight": w(n_embd, _N_FF),
        }
        if qk_norm:
            tensors[p + "attn_q_norm.weight"] = np.ones(head_dim, np.float32)
            tensors[p + "attn_k_norm.weight"] = np.ones(head_dim, np.float32)
        if qkv_bias:
            tensors[p + "attn_q.bias"] = np.zeros(n_embd, np.float32)
            tensors[p + "attn_k.bias"] = np.zeros(kv, np.float32)
            tensors[p + "attn_v.bias"] = np.zeros(kv, np.float32)
    if vision:
        tensors["v.patch_embd.weight"] = w(32, 48)
        tensors["v.blk.0.attn_q.weight"] = w(32, 32)
        tensors["mm.1.weight"] = w(n_embd, 32)
    _finish(writer, tensors)
    return path


#: The image tokens of :func:`write_ollama_gemma3_vision`'s tower: 64/4 = 16 patches a side,
#: pooled by Gemma 3's fixed 4 into 4x4.
GEMMA3_VISION_IMAGE_TOKENS = 16


def write_ollama_gemma3_vision(path: Path, *, blocks: int = 6, seed: int = 0) -> Path:
    """Gemma 3 with a complete (tiny) SigLIP vision tower and projector in the same blob, named
    and keyed as Ollama's converter writes them (``convert/convert_gemma3.go``): ``gemma3.vision.*``
    keys, ``v.patch_embedding``, ``v.position_embedding``, ``v.blk.N.layer_norm1``,
    ``v.blk.N.mlp.fc1``, ``v.post_layernorm``, ``mm.mm_input_projection``, ``mm.mm_soft_emb_norm``
    (Gemma's +1 already added, as the converter's repacker does). 64x64 images, 4x4 patches."""
    rng = np.random.default_rng(seed)
    writer, rows = _writer(path, "gemma3", extra_tokens=5)
    _gemma_keys(writer, "gemma3", blocks)
    v_embd, v_ff, image, patch = 32, 64, 64, 4
    writer.add_float32("gemma3.rope.global.freq_base", 1000000.0)
    writer.add_float32("gemma3.rope.local.freq_base", 10000.0)
    writer.add_uint32("gemma3.mm.tokens_per_image", GEMMA3_VISION_IMAGE_TOKENS)
    writer.add_uint32("gemma3.vision.block_count", 1)
    writer.add_uint32("gemma3.vision.embedding_length", v_embd)
    writer.add_uint32("gemma3.vision.feed_forward_length", v_ff)
    writer.add_uint32("gemma3.vision.image_size", image)
    writer.add_uint32("gemma3.vision.patch_size", patch)
    writer.add_uint32("gemma3.vision.num_channels", 3)
    writer.add_uint32("gemma3.vision.attention.head_count", 2)
    writer.add_float32("gemma3.vision.attention.layer_norm_epsilon", 1e-6)

    def w(*shape: int) -> np.ndarray[Any, Any]:
        return rng.standard_normal(shape, dtype=np.float32) * np.float32(0.05)

    tensors = _gemma_blocks(rng, blocks)
    tensors["token_embd.weight"] = w(rows, _N_EMBD)
    tensors["output_norm.weight"] = np.ones(_N_EMBD, np.float32)
    tensors |= {
        "v.patch_embedding.weight": w(v_embd, 3, patch, patch),
        "v.patch_embedding.bias": np.zeros(v_embd, np.float32),
        "v.position_embedding.weight": w((image // patch) ** 2, v_embd),
        "v.post_layernorm.weight": np.ones(v_embd, np.float32),
        "v.post_layernorm.bias": np.zeros(v_embd, np.float32),
        "mm.mm_input_projection.weight": w(v_embd, _N_EMBD),
        "mm.mm_soft_emb_norm.weight": np.ones(v_embd, np.float32),
    }
    p = "v.blk.0."
    for name in ("attn_q", "attn_k", "attn_v", "attn_output"):
        tensors[p + name + ".weight"] = w(v_embd, v_embd)
        tensors[p + name + ".bias"] = np.zeros(v_embd, np.float32)
    for name in ("layer_norm1", "layer_norm2"):
        tensors[p + name + ".weight"] = np.ones(v_embd, np.float32)
        tensors[p + name + ".bias"] = np.zeros(v_embd, np.float32)
    tensors[p + "mlp.fc1.weight"], tensors[p + "mlp.fc1.bias"] = w(v_ff, v_embd), np.zeros(v_ff, np.float32)
    tensors[p + "mlp.fc2.weight"], tensors[p + "mlp.fc2.bias"] = w(v_embd, v_ff), np.zeros(v_embd, np.float32)
    _finish(writer, tensors)
    return path
