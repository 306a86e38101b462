"""Tiny mixture-of-experts GGUFs written the way Ollama's converter writes them (gpt-oss, Llama 4,
GLM-4.7 Flash, Laguna, Gemma 4), for the compatibility layer's load tests.

Each model has 2 layers, 4 experts (2 used per token) and a vocabulary of a few hundred tokens;
random weights, so generation is gibberish, but llama.cpp runs the real graph. The keys and tensor
names are those of the Ollama converter (``convert/convert_<arch>.go`` in github.com/ollama/ollama)
that wrote the published blobs: the version before commit 9db4bdbad (2026-05-29), which moved new
conversions to llama.cpp's names; the compat shim at fb30760996871fa9460115c753afd2c60d4ab0f7 exists
for the blobs written before it. Deterministic: same arguments, same bytes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from tests.support.ollama_gguf import Quantized, Tensors, _finish
from tests.support.tiny_gguf import bpe_vocab

__all__ = ["write_ollama_gptoss"]

_N_EMBD, _N_HEAD, _N_HEAD_KV, _HEAD_DIM = 64, 4, 2, 16
_N_EXPERT, _N_EXPERT_USED, _N_FF_EXP = 4, 2, 64


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


def write_ollama_gptoss(path: Path, *, blocks: int = 2, seed: int = 0) -> Path:
    """gpt-oss as Ollama's converter wrote it from the Hugging Face checkpoint: architecture
    ``gptoss`` (llama.cpp says ``gpt-oss``) with ``gptoss.*`` keys, no ``expert_feed_forward_length``
    and no ``rope.scaling.type``, the generic pre-tokenizer; tensors ``attn_out`` (llama.cpp:
    ``attn_output``), ``attn_sinks`` without ``.weight``, the post-attention norm as ``ffn_norm``;
    the experts' gate and up halves split from the interleaved ``gate_up_proj`` and stored MXFP4,
    their biases F32."""
    specials = [
        "<|startoftext|>",
        "<|endoftext|>",
        "<|return|>",
        "<|call|>",
        "<|start|>",
        "<|end|>",
        "<|message|>",
    ]
    writer, rows = _bpe_writer(path, "gptoss", specials, pre="default")
    w = _rng_weights(seed)
    arch = "gptoss"
    for key, value in {
        "context_length": 4096,
        "block_count": blocks,
        "embedding_length": _N_EMBD,
        "feed_forward_length": _N_FF_EXP,
        "expert_count": _N_EXPERT,
        "expert_used_count": _N_EXPERT_USED,
        "attention.head_count": _N_HEAD,
        "attention.head_count_kv": _N_HEAD_KV,
        "attention.key_length": _HEAD_DIM,
        "attention.value_length": _HEAD_DIM,
        "attention.sliding_window": 64,
        "rope.scaling.original_context_length": 4096,
    }.items():
        writer.add_uint32(f"{arch}.{key}", value)
    writer.add_float32(f"{arch}.attention.layer_norm_rms_epsilon", 1e-5)
    writer.add_float32(f"{arch}.rope.freq_base", 150000.0)
    writer.add_float32(f"{arch}.rope.scaling.factor", 32.0)
    writer.add_uint32("tokenizer.ggml.bos_token_id", 0)
    writer.add_bool("tokenizer.ggml.add_bos_token", False)
    writer.add_uint32("tokenizer.ggml.eos_token_id", 1)
    writer.add_array("tokenizer.ggml.eos_token_ids", [1, 2, 3])
    writer.add_bool("tokenizer.ggml.add_eos_token", False)
    q = _N_HEAD * _HEAD_DIM
    kv = _N_HEAD_KV * _HEAD_DIM
    tensors: Tensors = {
        "token_embd.weight": w(rows, _N_EMBD),
        "output.weight": w(rows, _N_EMBD),
        "output_norm.weight": np.ones(_N_EMBD, np.float32),
    }
    for i in range(blocks):
        p = f"blk.{i}."
        tensors |= {
            p + "attn_norm.weight": np.ones(_N_EMBD, np.float32),
            p + "attn_q.weight": w(q, _N_EMBD),
            p + "attn_q.bias": w(q),
            p + "attn_k.weight": w(kv, _N_EMBD),
            p + "attn_k.bias": w(kv),
            p + "attn_v.weight": w(kv, _N_EMBD),
            p + "attn_v.bias": w(kv),
            p + "attn_out.weight": w(_N_EMBD, q),
            p + "attn_out.bias": w(_N_EMBD),
            p + "attn_sinks": w(_N_HEAD),
            p + "ffn_norm.weight": np.ones(_N_EMBD, np.float32),
            p + "ffn_gate_inp.weight": w(_N_EXPERT, _N_EMBD),
            p + "ffn_gate_inp.bias": w(_N_EXPERT),
            p + "ffn_gate_exps.weight": Quantized.of(w(_N_EXPERT, _N_FF_EXP, _N_EMBD), "MXFP4"),
            p + "ffn_gate_exps.bias": w(_N_EXPERT, _N_FF_EXP),
            p + "ffn_up_exps.weight": Quantized.of(w(_N_EXPERT, _N_FF_EXP, _N_EMBD), "MXFP4"),
            p + "ffn_up_exps.bias": w(_N_EXPERT, _N_FF_EXP),
            p + "ffn_down_exps.weight": Quantized.of(w(_N_EXPERT, _N_EMBD, _N_FF_EXP), "MXFP4"),
            p + "ffn_down_exps.bias": w(_N_EXPERT, _N_EMBD),
        }
    _finish(writer, tensors)
    return path
