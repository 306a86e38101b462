"""Tiny GGUFs written the way Ollama's converter writes them, for the compatibility layer's tests.

Each ``write_ollama_<arch>`` writes a small, real model (random weights, a few hundred tokens,
1-6 layers) with the keys, tensor names and layout Ollama's converter (``convert/`` in
github.com/ollama/ollama) gives that architecture, so that plain llama.cpp refuses it exactly as
it refuses the published blob, and ollama-py's translation makes it load and generate. Tensors
are written in name order, as Ollama's GGUF writer sorts them, so that the embedded vision
tensors sit between text tensors (the translator must then lay the data out again).
Deterministic: same arguments, same bytes.

This module: the Gemma family (gemma3, EmbeddingGemma, gemma3n), OLMo 3, the llama-shaped vision
blobs (mistral3, qwen2.5-VL, qwen3-VL), Llama 3's tokenizer gap, Snowflake Arctic Embed 2 and
GLM-OCR, plus the shared writer helpers. :mod:`tests.support.ollama_gguf_moe` has the
mixture-of-experts models, :mod:`tests.support.ollama_gguf_hybrid` the convolution/state-space
hybrids.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tests.support.tiny_gguf import _vocab, bpe_vocab

__all__ = [
    "GEMMA3_VISION_IMAGE_TOKENS",
    "Quantized",
    "Tensors",
    "write_ollama_embeddinggemma",
    "write_ollama_gemma3",
    "write_ollama_gemma3_vision",
    "write_ollama_gemma3n",
    "write_ollama_glmocr",
    "write_ollama_llama3",
    "write_ollama_llama_like",
    "write_ollama_olmo3",
    "write_ollama_snowflake_arctic_embed2",
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


@dataclass(frozen=True)
class Quantized:
    """A weight stored in a GGML block type (MXFP4 for gpt-oss's experts, as Ollama writes them)."""

    data: np.ndarray[Any, Any]
    qtype: int

    @classmethod
    def of(cls, values: np.ndarray[Any, Any], type_name: str) -> Quantized:
        """Quantize float ``values`` (numpy order, innermost last) to the GGML type ``type_name``."""
        import gguf

        qtype = gguf.GGMLQuantizationType[type_name]
        return cls(gguf.quants.quantize(values.astype(np.float32), qtype), int(qtype))


Tensors = dict[str, "np.ndarray[Any, Any] | Quantized"]


def _rng_weights(seed: int) -> Any:
    rng = np.random.default_rng(seed)

    def w(*shape: int) -> np.ndarray[Any, Any]:
        return rng.standard_normal(shape, dtype=np.float32) * np.float32(0.05)

    return w


def _bpe_writer(path: Path, arch: str, specials: list[str], pre: str) -> tuple[Any, int]:
    """A GGUFWriter with a tiny byte-level BPE vocabulary (``gpt2``), as Ollama writes a
    tokenizer.json model; returns (writer, vocabulary size)."""
    import gguf

    writer = gguf.GGUFWriter(path, arch)
    tokens, types, merges = bpe_vocab(specials)
    writer.add_name(f"tiny-ollama-{arch}")
    writer.add_uint32("general.file_type", 1)
    writer.add_uint32("general.quantization_version", 2)
    writer.add_string("tokenizer.ggml.model", "gpt2")
    writer.add_string("tokenizer.ggml.pre", pre)
    writer.add_array("tokenizer.ggml.tokens", tokens)
    writer.add_array("tokenizer.ggml.token_type", types)
    writer.add_array("tokenizer.ggml.merges", merges)
    return writer, len(tokens)


def _finish(writer: Any, tensors: Tensors) -> None:
    """Write the tensors in name order (F32 unless :class:`Quantized`) and close the file."""
    import gguf

    for name in sorted(tensors):
        t = tensors[name]
        if isinstance(t, Quantized):
            qtype = gguf.GGMLQuantizationType(t.qtype)
            writer.add_tensor(name, t.data, raw_shape=t.data.shape, raw_dtype=qtype)
        else:
            writer.add_tensor(name, t.astype(np.float32))
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


def write_ollama_gemma3n(path: Path, *, blocks: int = 2, seed: int = 0) -> Path:
    """Gemma 3n as Ollama's converter writes it: the tokenizer and ``token_embd`` keep the
    multimodal tokens (8 here, 256 in the published blobs) that ``per_layer_token_embd`` lacks, so
    llama.cpp finds a per-layer embedding of the wrong shape; ``head_dim`` and
    ``rope.freq_base_local`` under Ollama's names; AltUp and LAuReL tensors named as llama.cpp names
    them (``altup_proj`` merged from the per-input projections). llama.cpp fixes the per-layer
    input width at 256 and the AltUp inputs at 4, so those dimensions are real size."""
    rng = np.random.default_rng(seed)
    writer, rows = _writer(path, "gemma3n", extra_tokens=8)
    n_vocab_full = rows + 8
    n_altup, n_ple, laurel = 4, 256, 64

    def w(*shape: int) -> np.ndarray[Any, Any]:
        return rng.standard_normal(shape, dtype=np.float32) * np.float32(0.05)

    a = "gemma3n"
    writer.add_array(f"{a}.activation_sparsity_scale", [0.0] * blocks)
    writer.add_uint32(f"{a}.altup.active_idx", 0)
    writer.add_bool(f"{a}.altup.correct_scale", True)
    writer.add_float32(f"{a}.altup.lr_multiplier", 1.0)
    writer.add_uint32(f"{a}.altup.num_inputs", n_altup)
    writer.add_uint32(f"{a}.attention.head_count_kv", _N_HEAD_KV)
    writer.add_uint32(f"{a}.attention.head_count", _N_HEAD)
    writer.add_float32(f"{a}.attention.layer_norm_rms_epsilon", 1e-6)
    writer.add_uint32(f"{a}.attention.sliding_window", 64)
    writer.add_array(f"{a}.attention.sliding_window_pattern", [i % 2 == 0 for i in range(blocks)])
    writer.add_uint32(f"{a}.attention.shared_kv_layers", 0)
    writer.add_uint32(f"{a}.block_count", blocks)
    writer.add_uint32(f"{a}.context_length", 256)
    writer.add_uint32(f"{a}.embedding_length_per_layer_input", n_ple)
    writer.add_uint32(f"{a}.embedding_length", _N_EMBD)
    writer.add_uint32(f"{a}.feed_forward_length", _N_FF)
    writer.add_uint32(f"{a}.head_dim", _HEAD_DIM)
    writer.add_float32(f"{a}.rope.freq_base_local", 10000.0)
    writer.add_float32(f"{a}.rope.freq_base", 1000000.0)
    writer.add_array("tokenizer.ggml.eos_token_ids", [2])
    kv = _HEAD_DIM * _N_HEAD_KV
    tensors: Tensors = {
        "token_embd.weight": w(n_vocab_full, _N_EMBD),
        "per_layer_token_embd.weight": w(rows, n_ple * blocks),
        "per_layer_model_proj.weight": w(n_ple * blocks, _N_EMBD),
        "per_layer_proj_norm.weight": np.ones(n_ple, np.float32),
        "altup_proj.weight": w(n_altup - 1, _N_EMBD, _N_EMBD),
        "altup_unembd_proj.weight": w(n_altup - 1, _N_EMBD, _N_EMBD),
        "output_norm.weight": np.ones(_N_EMBD, np.float32),
    }
    for i in range(blocks):
        p = f"blk.{i}."
        tensors |= {
            p + "attn_norm.weight": np.ones(_N_EMBD, np.float32),
            p + "attn_q.weight": w(_N_EMBD, _N_EMBD),
            p + "attn_k.weight": w(kv, _N_EMBD),
            p + "attn_v.weight": w(kv, _N_EMBD),
            p + "attn_q_norm.weight": np.ones(_HEAD_DIM, np.float32),
            p + "attn_k_norm.weight": np.ones(_HEAD_DIM, np.float32),
            p + "attn_output.weight": w(_N_EMBD, _N_EMBD),
            p + "post_attention_norm.weight": np.ones(_N_EMBD, np.float32),
            p + "ffn_norm.weight": np.ones(_N_EMBD, np.float32),
            p + "ffn_gate.weight": w(_N_FF, _N_EMBD),
            p + "ffn_up.weight": w(_N_FF, _N_EMBD),
            p + "ffn_down.weight": w(_N_EMBD, _N_FF),
            p + "post_ffw_norm.weight": np.ones(_N_EMBD, np.float32),
            p + "inp_gate.weight": w(n_ple, _N_EMBD),
            p + "proj.weight": w(_N_EMBD, n_ple),
            p + "post_norm.weight": np.ones(_N_EMBD, np.float32),
            p + "altup_correct_coef.weight": w(n_altup, n_altup),
            p + "altup_correct_scale.weight": np.ones(_N_EMBD, np.float32),
            p + "altup_predict_coef.weight": w(n_altup * n_altup, n_altup),
            p + "altup_router.weight": w(n_altup, _N_EMBD),
            p + "altup_router_norm.weight": np.ones(_N_EMBD, np.float32),
            p + "laurel_l.weight": w(laurel, _N_EMBD),
            p + "laurel_r.weight": w(_N_EMBD, laurel),
            p + "laurel_post_norm.weight": np.ones(_N_EMBD, np.float32),
        }
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


#: A Llama 3 chat template, the kind Ollama's converter copies from tokenizer_config.json.
LLAMA3_CHAT_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}{{ '<|start_header_id|>' + message['role'] + "
    "'<|end_header_id|>\\n\\n' + message['content'] | trim + '<|eot_id|>' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}"
)


def write_ollama_llama3(path: Path, *, seed: int = 0) -> Path:
    """A Llama 3 instruct model as some published Ollama blobs are: the full 128256-token layout
    (<|begin_of_text|> at 128000, <|end_of_text|> 128001, <|start_header_id|> 128006,
    <|eot_id|> 128009), no ``tokenizer.ggml.pre`` (llama.cpp then splits text with its default
    pattern, which cuts punctuation from the letters after it; Llama 3's keeps ",the" one piece)
    and EOS on <|end_of_text|>. The byte-level BPE vocabulary merges ",the" into one token, so
    the two pre-tokenizers tokenize it differently. One layer of 16 wide, tied output (the embedding is 4 MiB of F16)."""
    import gguf

    tokens, types, merges = bpe_vocab([])
    for merged, pair in ((",t", ", t"), (",th", ",t h"), (",the", ",th e")):
        tokens.append(merged)
        types.append(1)
        merges.append(pair)
    tokens += [f"<filler_{i}>" for i in range(128000 - len(tokens))]
    types += [1] * (128000 - len(types))
    named = {0: "<|begin_of_text|>", 1: "<|end_of_text|>", 6: "<|start_header_id|>", 7: "<|end_header_id|>"}
    named |= {8: "<|eom_id|>", 9: "<|eot_id|>"}
    tokens += [named.get(i, f"<|reserved_special_token_{i}|>") for i in range(256)]
    types += [3] * 256
    n_embd, n_ff, rows = 16, 32, len(tokens)
    writer = gguf.GGUFWriter(path, "llama")
    writer.add_name("tiny-ollama-llama3")
    writer.add_uint32("general.file_type", 1)
    for key, value in {
        "vocab_size": rows,
        "block_count": 1,
        "context_length": 8192,
        "embedding_length": n_embd,
        "feed_forward_length": n_ff,
        "attention.head_count": 2,
        "rope.dimension_count": n_embd // 2,
        "attention.head_count_kv": 2,
    }.items():
        writer.add_uint32(f"llama.{key}", value)
    writer.add_float32("llama.rope.freq_base", 500000.0)
    writer.add_float32("llama.attention.layer_norm_rms_epsilon", 1e-5)
    writer.add_string("tokenizer.ggml.model", "gpt2")
    writer.add_array("tokenizer.ggml.tokens", tokens)
    writer.add_array("tokenizer.ggml.token_type", types)
    writer.add_array("tokenizer.ggml.merges", merges)
    writer.add_uint32("tokenizer.ggml.bos_token_id", 128000)
    writer.add_uint32("tokenizer.ggml.eos_token_id", 128001)
    writer.add_bool("tokenizer.ggml.add_bos_token", True)
    writer.add_string("tokenizer.chat_template", LLAMA3_CHAT_TEMPLATE)
    w = _rng_weights(seed)
    p = "blk.0."
    tensors: Tensors = {
        "token_embd.weight": Quantized(
            w(rows, n_embd).astype(np.float16).view(np.uint8), int(gguf.GGMLQuantizationType.F16)
        ),
        "output_norm.weight": np.ones(n_embd, np.float32),
        p + "attn_norm.weight": np.ones(n_embd, np.float32),
        p + "attn_q.weight": w(n_embd, n_embd),
        p + "attn_k.weight": w(n_embd, n_embd),
        p + "attn_v.weight": w(n_embd, n_embd),
        p + "attn_output.weight": w(n_embd, n_embd),
        p + "ffn_norm.weight": np.ones(n_embd, np.float32),
        p + "ffn_gate.weight": w(n_ff, n_embd),
        p + "ffn_up.weight": w(n_ff, n_embd),
        p + "ffn_down.weight": w(n_embd, n_ff),
    }
    _finish(writer, tensors)
    return path


def _empty_charsmap() -> bytes:
    """A valid SentencePiece precompiled normalization map that maps nothing: a 256-node XCDA of
    zeros (every first byte fails its check) and one empty replacement string."""
    xcda = bytes(4 * 256)
    return len(xcda).to_bytes(4, "little") + xcda + b"\0"


def write_ollama_snowflake_arctic_embed2(path: Path, *, seed: int = 0) -> Path:
    """Snowflake Arctic Embed 2 as Ollama's library holds it: an XLM-RoBERTa ``bert`` encoder
    with the ``t5`` (Unigram) tokenizer whose ``precompiled_charsmap`` is a base64 text stored as
    a string array, one character per element (llama.cpp reads a byte array and refuses it).
    One layer of 64, CLS pooling."""
    import base64

    import gguf

    rng = np.random.default_rng(seed)
    words = [
        "\u2581" + w
        for w in [
            "the",
            "a",
            "an",
            "and",
            "of",
            "to",
            "in",
            "is",
            "it",
            "you",
            "that",
            "he",
            "was",
            "for",
            "on",
            "are",
            "with",
            "as",
        ]
    ]
    tokens = ["<s>", "<pad>", "</s>", "<unk>", "\u2581", *"abcdefghijklmnopqrstuvwxyz", *words]
    scores = [0.0] * 4 + [-3.0] + [-5.0] * 26 + [-float(i) / 10 - 1 for i in range(len(words))]
    types = [3, 3, 3, 2] + [1] * (len(tokens) - 4)
    n_embd, n_ff, n_ctx, rows = 64, 128, 64, len(tokens)
    writer = gguf.GGUFWriter(path, "bert")
    writer.add_name("tiny-ollama-snowflake-arctic-embed2")
    writer.add_uint32("general.file_type", 0)
    for key, value in {
        "context_length": n_ctx,
        "embedding_length": n_embd,
        "feed_forward_length": n_ff,
        "block_count": 1,
        "attention.head_count": _N_HEAD,
        "pooling_type": 2,
    }.items():
        writer.add_uint32(f"bert.{key}", value)
    writer.add_float32("bert.attention.layer_norm_epsilon", 1e-5)
    writer.add_bool("bert.attention.causal", False)
    writer.add_string("tokenizer.ggml.model", "t5")
    writer.add_array("tokenizer.ggml.tokens", tokens)
    writer.add_array("tokenizer.ggml.scores", scores)
    writer.add_array("tokenizer.ggml.token_type", types)
    writer.add_array(
        "tokenizer.ggml.precompiled_charsmap", list(base64.b64encode(_empty_charsmap()).decode())
    )
    writer.add_uint32("tokenizer.ggml.token_type_count", 1)
    for name, token_id in {"bos": 0, "padding": 1, "eos": 2, "unknown": 3, "cls": 0, "seperator": 2}.items():
        writer.add_uint32(f"tokenizer.ggml.{name}_token_id", token_id)
    writer.add_bool("tokenizer.ggml.add_bos_token", True)
    writer.add_bool("tokenizer.ggml.add_eos_token", True)

    def w(*shape: int) -> np.ndarray[Any, Any]:
        return rng.standard_normal(shape, dtype=np.float32) * np.float32(0.05)

    p = "blk.0."
    tensors: Tensors = {
        "token_embd.weight": w(rows, n_embd),
        "token_types.weight": w(1, n_embd),
        "position_embd.weight": w(n_ctx, n_embd),
        "token_embd_norm.weight": np.ones(n_embd, np.float32),
        "token_embd_norm.bias": np.zeros(n_embd, np.float32),
        p + "attn_q.weight": w(n_embd, n_embd),
        p + "attn_q.bias": np.zeros(n_embd, np.float32),
        p + "attn_k.weight": w(n_embd, n_embd),
        p + "attn_k.bias": np.zeros(n_embd, np.float32),
        p + "attn_v.weight": w(n_embd, n_embd),
        p + "attn_v.bias": np.zeros(n_embd, np.float32),
        p + "attn_output.weight": w(n_embd, n_embd),
        p + "attn_output.bias": np.zeros(n_embd, np.float32),
        p + "attn_output_norm.weight": np.ones(n_embd, np.float32),
        p + "attn_output_norm.bias": np.zeros(n_embd, np.float32),
        p + "ffn_up.weight": w(n_ff, n_embd),
        p + "ffn_up.bias": np.zeros(n_ff, np.float32),
        p + "ffn_down.weight": w(n_embd, n_ff),
        p + "ffn_down.bias": np.zeros(n_embd, np.float32),
        p + "layer_output_norm.weight": np.ones(n_embd, np.float32),
        p + "layer_output_norm.bias": np.zeros(n_embd, np.float32),
    }
    _finish(writer, tensors)
    return path


def write_ollama_glmocr(path: Path, *, seed: int = 0) -> Path:
    """GLM-OCR as Ollama's converter writes it: architecture ``glmocr`` (llama.cpp: ``glm4``), a
    3-element ``rope.mrope_section``, the ``llama-bpe`` pre-tokenizer; ``gate_up_proj`` split
    into ``ffn_gate`` and ``ffn_up`` (llama.cpp's glm4 reads one ``ffn_up`` of twice the width,
    gate half first), ``attn_out``, ``post_attn_norm``, ``post_ffn_norm``; the vision tower and
    merger (``v.*``, ``mm.*``) in the blob. Two layers."""
    writer, rows = _bpe_writer(
        path, "glmocr", ["<|endoftext|>", "[gMASK]", "<sop>", "<|user|>", "<|assistant|>"], pre="llama-bpe"
    )
    w = _rng_weights(seed)
    a = "glmocr"
    for key, value in {
        "block_count": 2,
        "embedding_length": _N_EMBD,
        "attention.head_count": _N_HEAD,
        "attention.head_count_kv": _N_HEAD_KV,
        "attention.key_length": _HEAD_DIM,
        "attention.value_length": _HEAD_DIM,
        "feed_forward_length": _N_FF,
        "context_length": 4096,
        "vision.block_count": 1,
        "vision.embedding_length": 32,
        "vision.patch_size": 14,
        "image_token_id": 3,
    }.items():
        writer.add_uint32(f"{a}.{key}", value)
    writer.add_float32(f"{a}.attention.layer_norm_rms_epsilon", 1e-5)
    writer.add_float32(f"{a}.rope.freq_base", 10000.0)
    writer.add_float32(f"{a}.rope.partial_rotary_factor", 1.0)
    writer.add_array(f"{a}.rope.mrope_section", [2, 3, 3])
    writer.add_uint32("tokenizer.ggml.eos_token_id", 0)
    kv = _HEAD_DIM * _N_HEAD_KV
    tensors: Tensors = {
        "token_embd.weight": w(rows, _N_EMBD),
        "output.weight": w(rows, _N_EMBD),
        "output_norm.weight": np.ones(_N_EMBD, np.float32),
        "v.patch_embd_0.weight": w(32, 3 * 14 * 14),
        "v.blk.0.attn_qkv.weight": w(96, 32),
        "mm.model.fc.weight": w(_N_EMBD, 32),
    }
    for i in range(2):
        p = f"blk.{i}."
        gate_up = w(2 * _N_FF, _N_EMBD)
        tensors |= {
            p + "attn_norm.weight": np.ones(_N_EMBD, np.float32),
            p + "attn_q.weight": w(_N_EMBD, _N_EMBD),
            p + "attn_k.weight": w(kv, _N_EMBD),
            p + "attn_v.weight": w(kv, _N_EMBD),
            p + "attn_out.weight": w(_N_EMBD, _N_EMBD),
            p + "post_attn_norm.weight": np.ones(_N_EMBD, np.float32),
            p + "ffn_norm.weight": np.ones(_N_EMBD, np.float32),
            p + "ffn_gate.weight": gate_up[:_N_FF],
            p + "ffn_up.weight": gate_up[_N_FF:],
            p + "ffn_down.weight": w(_N_EMBD, _N_FF),
            p + "post_ffn_norm.weight": np.ones(_N_EMBD, np.float32),
        }
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
