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

import numpy as np

from tests.support.ollama_gguf import Quantized, Tensors, _bpe_writer, _finish, _rng_weights
from tests.support.tiny_gguf import bpe_vocab

__all__ = [
    "write_ollama_deepseekocr",
    "write_ollama_gemma4",
    "write_ollama_glm4moelite",
    "write_ollama_gptoss",
    "write_ollama_laguna",
    "write_ollama_llama4",
]

_N_EMBD, _N_HEAD, _N_HEAD_KV, _HEAD_DIM = 64, 4, 2, 16
_N_EXPERT, _N_EXPERT_USED, _N_FF_EXP = 4, 2, 64


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
        "<|channel|>",
        "<|constrain|>",
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


def write_ollama_llama4(path: Path, *, blocks: int = 4, seed: int = 0) -> Path:
    """Llama 4 as Ollama's converter writes it: a monolithic blob with the vision tower (``v.*``)
    and projector (``mm.*``) beside the text model, which llama.cpp's text loader counts as
    unexpected tensors; ``llama.*`` text keys renamed ``llama4.*`` plus the MoE keys and
    ``attention.chunk_size``; ``rope_freqs`` from the llama3 RoPE scaling; a dense layer then a MoE
    layer (``interleave_moe_layer_step`` 2) with a shared expert; experts split from the fused
    ``gate_up_proj``."""
    specials = ["<|begin_of_text|>", "<|end_of_text|>", "<|eot|>", "<|header_start|>", "<|header_end|>"]
    writer, rows = _bpe_writer(path, "llama4", specials, pre="default")
    w = _rng_weights(seed)
    n_ff, n_ff_exp = 128, 64
    a = "llama4"
    for key, value in {
        "vocab_size": rows,
        "block_count": blocks,
        "context_length": 4096,
        "embedding_length": _N_EMBD,
        "feed_forward_length": n_ff,
        "attention.head_count": _N_HEAD,
        "rope.dimension_count": _HEAD_DIM,
        "attention.head_count_kv": _N_HEAD_KV,
        "attention.key_length": _HEAD_DIM,
        "attention.value_length": _HEAD_DIM,
        "expert_feed_forward_length": n_ff_exp,
        "expert_count": _N_EXPERT,
        "expert_used_count": 1,
        "interleave_moe_layer_step": 2,
        "attention.chunk_size": 8192,
        "vision.block_count": 1,
        "vision.embedding_length": 32,
        "vision.feed_forward_length": 64,
        "vision.attention.head_count": 2,
        "vision.image_size": 28,
        "vision.patch_size": 14,
    }.items():
        writer.add_uint32(f"{a}.{key}", value)
    writer.add_float32(f"{a}.rope.freq_base", 500000.0)
    writer.add_float32(f"{a}.attention.layer_norm_rms_epsilon", 1e-5)
    writer.add_bool(f"{a}.use_qk_norm", True)
    writer.add_float32(f"{a}.vision.rope.freq_base", 10000.0)
    writer.add_float32(f"{a}.vision.layer_norm_epsilon", 1e-5)
    writer.add_float32(f"{a}.vision.pixel_shuffle_ratio", 0.5)
    writer.add_uint32("tokenizer.ggml.bos_token_id", 0)
    writer.add_uint32("tokenizer.ggml.eos_token_id", 2)
    writer.add_bool("tokenizer.ggml.add_bos_token", True)
    kv = _N_HEAD_KV * _HEAD_DIM
    tensors: Tensors = {
        "token_embd.weight": w(rows, _N_EMBD),
        "output.weight": w(rows, _N_EMBD),
        "output_norm.weight": np.ones(_N_EMBD, np.float32),
        "rope_freqs.weight": np.ones(_HEAD_DIM // 2, np.float32),
        "v.patch_embedding.weight": w(32, 3 * 14 * 14),
        "v.blk.0.attn_q.weight": w(32, 32),
        "v.blk.0.attn_q.bias": w(32),
        "mm.linear_1.weight": w(_N_EMBD, 32),
    }
    for i in range(blocks):
        p = f"blk.{i}."
        tensors |= {
            p + "attn_norm.weight": np.ones(_N_EMBD, np.float32),
            p + "attn_q.weight": w(_N_EMBD, _N_EMBD),
            p + "attn_k.weight": w(kv, _N_EMBD),
            p + "attn_v.weight": w(kv, _N_EMBD),
            p + "attn_output.weight": w(_N_EMBD, _N_EMBD),
            p + "ffn_norm.weight": np.ones(_N_EMBD, np.float32),
        }
        if i % 2 == 0:
            tensors |= {
                p + "ffn_gate.weight": w(n_ff, _N_EMBD),
                p + "ffn_up.weight": w(n_ff, _N_EMBD),
                p + "ffn_down.weight": w(_N_EMBD, n_ff),
            }
        else:
            tensors |= {
                p + "ffn_gate_inp.weight": w(_N_EXPERT, _N_EMBD),
                p + "ffn_gate_exps.weight": w(_N_EXPERT, n_ff_exp, _N_EMBD),
                p + "ffn_up_exps.weight": w(_N_EXPERT, n_ff_exp, _N_EMBD),
                p + "ffn_down_exps.weight": w(_N_EXPERT, _N_EMBD, n_ff_exp),
                p + "ffn_gate_shexp.weight": w(n_ff_exp, _N_EMBD),
                p + "ffn_up_shexp.weight": w(n_ff_exp, _N_EMBD),
                p + "ffn_down_shexp.weight": w(_N_EMBD, n_ff_exp),
            }
    _finish(writer, tensors)
    return path


def write_ollama_glm4moelite(path: Path, *, seed: int = 0) -> Path:
    """GLM-4.7 Flash as Ollama's converter writes it: architecture ``glm4moelite`` (llama.cpp runs
    the model as ``deepseek2``) with the per-head ``key_length`` (nope + rope) and ``value_length``
    (``v_head_dim``), the real KV-head count, and the MLA-absorbed sizes under ``*_mla``, the
    other way round from llama.cpp; ``kv_b_proj`` already split into ``attn_k_b``/``attn_v_b``;
    three end-of-generation ids in ``eos_token_ids`` and no ``eot``/``eom`` ids. The value head
    (16) differs from the key head (24) here, so a wrong ``value_length_mla`` fails the load (in
    the published model both are 256). One dense layer, then a MoE layer with a shared expert and
    the routing bias ``exp_probs_b``."""
    specials = ["<|endoftext|>", "[MASK]", "[gMASK]", "<sop>", "<|user|>", "<|assistant|>", "<|observation|>"]
    writer, rows = _bpe_writer(path, "glm4moelite", specials, pre="glm4")
    w = _rng_weights(seed)
    n_ff, n_ff_exp, q_lora, kv_lora, nope, rope, v_head = 128, 32, 32, 32, 16, 8, 16
    a = "glm4moelite"
    writer.add_string("general.type", "model")
    for key, value in {
        "block_count": 2,
        "attention.head_count": _N_HEAD,
        "attention.head_count_kv": _N_HEAD,
        "attention.key_length": nope + rope,
        "attention.kv_lora_rank": kv_lora,
        "attention.q_lora_rank": q_lora,
        "attention.value_length": v_head,
        "context_length": 4096,
        "embedding_length": _N_EMBD,
        "expert_count": _N_EXPERT,
        "expert_feed_forward_length": n_ff_exp,
        "expert_shared_count": 1,
        "expert_gating_func": 2,
        "expert_used_count": _N_EXPERT_USED,
        "feed_forward_length": n_ff,
        "leading_dense_block_count": 1,
        "rope.dimension_count": rope,
        "attention.key_length_mla": kv_lora + rope,
        "attention.value_length_mla": kv_lora,
    }.items():
        writer.add_uint32(f"{a}.{key}", value)
    writer.add_float32(f"{a}.attention.layer_norm_rms_epsilon", 1e-5)
    writer.add_bool(f"{a}.expert_weights_norm", True)
    writer.add_float32(f"{a}.expert_weights_scale", 1.8)
    writer.add_float32(f"{a}.rope.freq_base", 1000000.0)
    writer.add_uint32("tokenizer.ggml.eos_token_id", 0)
    writer.add_array("tokenizer.ggml.eos_token_ids", [0, 4, 6])
    writer.add_uint32("tokenizer.ggml.padding_token_id", 0)
    tensors: Tensors = {
        "token_embd.weight": w(rows, _N_EMBD),
        "output.weight": w(rows, _N_EMBD),
        "output_norm.weight": np.ones(_N_EMBD, np.float32),
    }
    for i in range(2):
        p = f"blk.{i}."
        tensors |= {
            p + "attn_norm.weight": np.ones(_N_EMBD, np.float32),
            p + "attn_q_a.weight": w(q_lora, _N_EMBD),
            p + "attn_q_a_norm.weight": np.ones(q_lora, np.float32),
            p + "attn_q_b.weight": w(_N_HEAD * (nope + rope), q_lora),
            p + "attn_kv_a_mqa.weight": w(kv_lora + rope, _N_EMBD),
            p + "attn_kv_a_norm.weight": np.ones(kv_lora, np.float32),
            p + "attn_k_b.weight": w(_N_HEAD, kv_lora, nope),
            p + "attn_v_b.weight": w(_N_HEAD, v_head, kv_lora),
            p + "attn_output.weight": w(_N_EMBD, _N_HEAD * v_head),
            p + "ffn_norm.weight": np.ones(_N_EMBD, np.float32),
        }
    tensors |= {
        "blk.0.ffn_gate.weight": w(n_ff, _N_EMBD),
        "blk.0.ffn_up.weight": w(n_ff, _N_EMBD),
        "blk.0.ffn_down.weight": w(_N_EMBD, n_ff),
        "blk.1.ffn_gate_inp.weight": w(_N_EXPERT, _N_EMBD),
        "blk.1.exp_probs_b.bias": w(_N_EXPERT),
        "blk.1.ffn_gate_exps.weight": w(_N_EXPERT, n_ff_exp, _N_EMBD),
        "blk.1.ffn_up_exps.weight": w(_N_EXPERT, n_ff_exp, _N_EMBD),
        "blk.1.ffn_down_exps.weight": w(_N_EXPERT, _N_EMBD, n_ff_exp),
        "blk.1.ffn_gate_shexp.weight": w(n_ff_exp, _N_EMBD),
        "blk.1.ffn_up_shexp.weight": w(n_ff_exp, _N_EMBD),
        "blk.1.ffn_down_shexp.weight": w(_N_EMBD, n_ff_exp),
    }
    _finish(writer, tensors)
    return path


def write_ollama_laguna(path: Path, *, seed: int = 0) -> Path:
    """Laguna (poolside) as Ollama's converter writes it: the sliding-window RoPE keys as
    ``rope.swa.dimension_count``/``rope.swa.freq_base`` (llama.cpp: ``rope.dimension_count_swa``,
    ``rope.freq_base_swa``) and the per-head attention output gate as ``attn_g`` (llama.cpp:
    ``attn_gate``); a full-attention dense layer then a sliding-window MoE layer with the routing
    bias and a shared expert; partial rotary on the full layer only."""
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    writer, rows = _bpe_writer(path, "laguna", specials, pre="laguna")
    w = _rng_weights(seed)
    n_ff, n_ff_exp, n_ff_shexp = 128, 32, 64
    a = "laguna"
    writer.add_bool("tokenizer.ggml.add_bos_token", False)
    writer.add_uint32("tokenizer.ggml.eos_token_id", 0)
    for key, value in {
        "block_count": 2,
        "context_length": 4096,
        "embedding_length": _N_EMBD,
        "feed_forward_length": n_ff,
        "attention.head_count": _N_HEAD,
        "attention.head_count_kv": _N_HEAD_KV,
        "attention.key_length": _HEAD_DIM,
        "attention.value_length": _HEAD_DIM,
        "attention.sliding_window": 64,
        "attention.gating_type": 1,
        "expert_count": _N_EXPERT,
        "expert_used_count": _N_EXPERT_USED,
        "expert_feed_forward_length": n_ff_exp,
        "expert_shared_feed_forward_length": n_ff_shexp,
        "expert_shared_count": 1,
        "expert_gating_func": 2,
        "decoder_sparse_step": 1,
        "leading_dense_block_count": 1,
        "rope.scaling.original_context_length": 4096,
        "rope.dimension_count": _HEAD_DIM // 2,
        "rope.swa.dimension_count": _HEAD_DIM,
    }.items():
        writer.add_uint32(f"{a}.{key}", value)
    writer.add_float32(f"{a}.attention.layer_norm_rms_epsilon", 1e-6)
    writer.add_bool(f"{a}.attention.sink_enabled", False)
    writer.add_array(f"{a}.attention.layer_types", [0, 1])
    writer.add_array(f"{a}.attention.sliding_window_pattern", [False, True])
    writer.add_bool(f"{a}.attention.qk_norm", True)
    writer.add_bool(f"{a}.expert_weights_norm", True)
    writer.add_float32(f"{a}.expert_weights_scale", 2.5)
    writer.add_array(f"{a}.dense_layers", [0])
    writer.add_float32(f"{a}.rope.freq_base", 500000.0)
    writer.add_string(f"{a}.rope.scaling.type", "yarn")
    writer.add_float32(f"{a}.rope.scaling.factor", 1.0)
    writer.add_float32(f"{a}.rope.scaling.beta_fast", 32.0)
    writer.add_float32(f"{a}.rope.scaling.beta_slow", 1.0)
    writer.add_float32(f"{a}.rope.scaling.attn_factor", 1.0)
    writer.add_float32(f"{a}.rope.partial_rotary_factor", 0.5)
    writer.add_float32(f"{a}.rope.swa.freq_base", 10000.0)
    writer.add_string(f"{a}.rope.swa.scaling.type", "linear")
    writer.add_float32(f"{a}.rope.swa.scaling.factor", 1.0)
    writer.add_float32(f"{a}.rope.swa.partial_rotary_factor", 1.0)
    kv = _N_HEAD_KV * _HEAD_DIM
    tensors: Tensors = {
        "token_embd.weight": w(rows, _N_EMBD),
        "output.weight": w(rows, _N_EMBD),
        "output_norm.weight": np.ones(_N_EMBD, np.float32),
    }
    for i in range(2):
        p = f"blk.{i}."
        tensors |= {
            p + "attn_norm.weight": np.ones(_N_EMBD, np.float32),
            p + "attn_q.weight": w(_N_HEAD * _HEAD_DIM, _N_EMBD),
            p + "attn_k.weight": w(kv, _N_EMBD),
            p + "attn_v.weight": w(kv, _N_EMBD),
            p + "attn_output.weight": w(_N_EMBD, _N_HEAD * _HEAD_DIM),
            p + "attn_g.weight": w(_N_HEAD, _N_EMBD),
            p + "attn_q_norm.weight": np.ones(_HEAD_DIM, np.float32),
            p + "attn_k_norm.weight": np.ones(_HEAD_DIM, np.float32),
            p + "ffn_norm.weight": np.ones(_N_EMBD, np.float32),
        }
    tensors |= {
        "blk.0.ffn_gate.weight": w(n_ff, _N_EMBD),
        "blk.0.ffn_up.weight": w(n_ff, _N_EMBD),
        "blk.0.ffn_down.weight": w(_N_EMBD, n_ff),
        "blk.1.ffn_gate_inp.weight": w(_N_EXPERT, _N_EMBD),
        "blk.1.exp_probs_b.bias": w(_N_EXPERT),
        "blk.1.ffn_gate_exps.weight": w(_N_EXPERT, n_ff_exp, _N_EMBD),
        "blk.1.ffn_up_exps.weight": w(_N_EXPERT, n_ff_exp, _N_EMBD),
        "blk.1.ffn_down_exps.weight": w(_N_EXPERT, _N_EMBD, n_ff_exp),
        "blk.1.ffn_gate_shexp.weight": w(n_ff_shexp, _N_EMBD),
        "blk.1.ffn_up_shexp.weight": w(n_ff_shexp, _N_EMBD),
        "blk.1.ffn_down_shexp.weight": w(_N_EMBD, n_ff_shexp),
    }
    _finish(writer, tensors)
    return path


def write_ollama_gemma4(path: Path, *, moe: bool = False, seed: int = 0) -> Path:
    """Gemma 4 as Ollama's converter writes it: ``tokenizer.ggml.model = llama`` over a BPE
    vocabulary with merges and the ``gemma4`` pre-tokenizer (llama.cpp's BPE type for it is named
    ``gemma4``: as SentencePiece, Gemma 4's control tokens would split into pieces), the vision
    tower (``v.*``), audio encoder (``a.*``) and projectors (``mm.*``, ``mm.a.*``) in the blob, and
    a ``rope_freqs`` tensor for the partial rotary of the global layers. A sliding-window layer then
    a global one. With ``moe``, both layers also carry 4 experts beside the dense FFN, with the
    gate and up projections stored apart (the checkpoints' ``moe.gate_proj``/``moe.up_proj``) and
    the per-expert scale as ``ffn_down_exps.scale``."""
    import gguf

    specials = ["<pad>", "<eos>", "<bos>", "<unk>", "<mask>", "<|turn>", "<turn|>"]
    writer = gguf.GGUFWriter(path, "gemma4")
    tokens, types, merges = bpe_vocab(specials, space="\u2581")
    rows = len(tokens)
    writer.add_name("tiny-ollama-gemma4")
    writer.add_uint32("general.file_type", 1)
    writer.add_string("tokenizer.ggml.model", "llama")
    writer.add_string("tokenizer.ggml.pre", "gemma4")
    writer.add_array("tokenizer.ggml.tokens", tokens)
    writer.add_array("tokenizer.ggml.scores", [0.0] * rows)
    writer.add_array("tokenizer.ggml.token_type", types)
    writer.add_array("tokenizer.ggml.merges", merges)
    writer.add_uint32("tokenizer.ggml.bos_token_id", 2)
    writer.add_uint32("tokenizer.ggml.eos_token_id", 1)
    writer.add_bool("tokenizer.ggml.add_bos_token", True)
    w = _rng_weights(seed)
    n_ff, n_ff_exp = 128, 32
    a = "gemma4"
    for key, value in {
        "block_count": 2,
        "embedding_length": _N_EMBD,
        "feed_forward_length": n_ff,
        "context_length": 4096,
        "attention.head_count": _N_HEAD,
        "attention.head_count_kv": _N_HEAD_KV,
        "attention.key_length": _HEAD_DIM,
        "attention.value_length": _HEAD_DIM,
        "attention.key_length_swa": _HEAD_DIM,
        "attention.value_length_swa": _HEAD_DIM,
        "attention.sliding_window": 64,
        "attention.shared_kv_layers": 0,
        "rope.dimension_count": _HEAD_DIM,
        "rope.dimension_count_swa": _HEAD_DIM,
        "embedding_length_per_layer_input": 0,
        "vision.block_count": 1,
        "vision.embedding_length": 32,
        "vision.patch_size": 16,
        "audio.block_count": 1,
        "audio.embedding_length": 32,
    }.items():
        writer.add_uint32(f"{a}.{key}", value)
    writer.add_float32(f"{a}.attention.layer_norm_rms_epsilon", 1e-6)
    writer.add_array(f"{a}.attention.sliding_window_pattern", [True, False])
    writer.add_float32(f"{a}.rope.freq_base", 1000000.0)
    writer.add_float32(f"{a}.rope.freq_base_swa", 10000.0)
    writer.add_float32(f"{a}.final_logit_softcapping", 30.0)
    if moe:
        writer.add_uint32(f"{a}.expert_count", _N_EXPERT)
        writer.add_uint32(f"{a}.expert_used_count", _N_EXPERT_USED)
        writer.add_uint32(f"{a}.expert_feed_forward_length", n_ff_exp)
    kv = _N_HEAD_KV * _HEAD_DIM
    ones = np.ones(_N_EMBD, np.float32)
    freqs = np.where(np.arange(_HEAD_DIM // 2) < _HEAD_DIM // 8, 1.0, 1e30).astype(np.float32)
    tensors: Tensors = {
        "token_embd.weight": w(rows, _N_EMBD),
        "output_norm.weight": ones,
        "rope_freqs.weight": freqs,
        "v.patch_embd.weight": w(32, 3 * 16 * 16),
        "v.blk.0.attn_q.weight": w(32, 32),
        "a.conv1d.0.weight": w(32, 128),
        "a.blk.0.attn_q.weight": w(32, 32),
        "mm.input_projection.weight": w(_N_EMBD, 32),
        "mm.a.input_projection.weight": w(_N_EMBD, 32),
    }
    for i in range(2):
        p = f"blk.{i}."
        tensors |= {
            p + "attn_norm.weight": ones,
            p + "attn_q.weight": w(_N_HEAD * _HEAD_DIM, _N_EMBD),
            p + "attn_k.weight": w(kv, _N_EMBD),
            p + "attn_v.weight": w(kv, _N_EMBD),
            p + "attn_output.weight": w(_N_EMBD, _N_HEAD * _HEAD_DIM),
            p + "attn_q_norm.weight": np.ones(_HEAD_DIM, np.float32),
            p + "attn_k_norm.weight": np.ones(_HEAD_DIM, np.float32),
            p + "post_attention_norm.weight": ones,
            p + "layer_output_scale.weight": np.ones(1, np.float32),
            p + "ffn_norm.weight": ones,
            p + "ffn_gate.weight": w(n_ff, _N_EMBD),
            p + "ffn_up.weight": w(n_ff, _N_EMBD),
            p + "ffn_down.weight": w(_N_EMBD, n_ff),
            p + "post_ffw_norm.weight": ones,
        }
        if moe:
            tensors |= {
                p + "ffn_gate_inp.weight": w(_N_EXPERT, _N_EMBD),
                p + "ffn_gate_inp.scale": ones,
                p + "pre_ffw_norm_2.weight": ones,
                p + "post_ffw_norm_1.weight": ones,
                p + "post_ffw_norm_2.weight": ones,
                p + "ffn_gate_exps.weight": w(_N_EXPERT, n_ff_exp, _N_EMBD),
                p + "ffn_up_exps.weight": w(_N_EXPERT, n_ff_exp, _N_EMBD),
                p + "ffn_down_exps.weight": w(_N_EXPERT, _N_EMBD, n_ff_exp),
                p + "ffn_down_exps.scale": np.ones(_N_EXPERT, np.float32),
            }
    _finish(writer, tensors)
    return path


def write_ollama_deepseekocr(path: Path, *, seed: int = 0) -> Path:
    """DeepSeek-OCR as Ollama's converter writes it: architecture ``deepseekocr`` (llama.cpp:
    ``deepseek2-ocr``) without ``attention.layer_norm_rms_epsilon``, ``expert_feed_forward_length``
    or ``expert_shared_count`` (llama.cpp requires all three), the SAM encoder (``s.*``), the CLIP
    vision tower (``v.*``) and the projector (``mm.*``) in the blob. A dense layer then a MoE layer
    with 4 routed and 2 shared experts; plain multi-head attention."""
    writer, rows = _bpe_writer(
        path,
        "deepseekocr",
        ["<\uff5cbegin\u2581of\u2581sentence\uff5c>", "<\uff5cend\u2581of\u2581sentence\uff5c>", "<image>"],
        pre="default",
    )
    w = _rng_weights(seed)
    n_ff, n_ff_exp, n_shared = 128, 32, 2
    for key, value in {
        "block_count": 2,
        "context_length": 4096,
        "embedding_length": _N_EMBD,
        "feed_forward_length": n_ff,
        "attention.head_count": _N_HEAD,
        "attention.head_count_kv": _N_HEAD,
        "expert_count": _N_EXPERT,
        "expert_used_count": _N_EXPERT_USED,
        "leading_dense_block_count": 1,
        "vision.block_count": 1,
        "vision.embedding_length": 32,
        "vision.head_count": 2,
        "vision.image_size": 224,
        "vision.patch_size": 14,
        "sam.block_count": 1,
        "sam.embedding_length": 32,
        "sam.head_count": 2,
    }.items():
        writer.add_uint32(f"deepseekocr.{key}", value)
    writer.add_array("deepseekocr.sam.global_attention_indexes", [0])
    writer.add_uint32("tokenizer.ggml.bos_token_id", 0)
    writer.add_uint32("tokenizer.ggml.eos_token_id", 1)
    tensors: Tensors = {
        "token_embd.weight": w(rows, _N_EMBD),
        "output.weight": w(rows, _N_EMBD),
        "output_norm.weight": np.ones(_N_EMBD, np.float32),
        "s.patch_embd.weight": w(32, 3 * 16 * 16),
        "s.blk.0.attn.qkv.weight": w(96, 32),
        "v.patch_embd.weight": w(32, 3 * 14 * 14),
        "v.blk.0.self_attn.qkv_proj.weight": w(96, 32),
        "mm.layers.weight": w(_N_EMBD, 64),
        "mm.image_newline": w(_N_EMBD),
    }
    for i in range(2):
        p = f"blk.{i}."
        tensors |= {
            p + "attn_norm.weight": np.ones(_N_EMBD, np.float32),
            p + "attn_q.weight": w(_N_EMBD, _N_EMBD),
            p + "attn_k.weight": w(_N_EMBD, _N_EMBD),
            p + "attn_v.weight": w(_N_EMBD, _N_EMBD),
            p + "attn_output.weight": w(_N_EMBD, _N_EMBD),
            p + "ffn_norm.weight": np.ones(_N_EMBD, np.float32),
        }
    tensors |= {
        "blk.0.ffn_gate.weight": w(n_ff, _N_EMBD),
        "blk.0.ffn_up.weight": w(n_ff, _N_EMBD),
        "blk.0.ffn_down.weight": w(_N_EMBD, n_ff),
        "blk.1.ffn_gate_inp.weight": w(_N_EXPERT, _N_EMBD),
        "blk.1.ffn_gate_exps.weight": w(_N_EXPERT, n_ff_exp, _N_EMBD),
        "blk.1.ffn_up_exps.weight": w(_N_EXPERT, n_ff_exp, _N_EMBD),
        "blk.1.ffn_down_exps.weight": w(_N_EXPERT, _N_EMBD, n_ff_exp),
        "blk.1.ffn_gate_shexp.weight": w(n_shared * n_ff_exp, _N_EMBD),
        "blk.1.ffn_up_shexp.weight": w(n_shared * n_ff_exp, _N_EMBD),
        "blk.1.ffn_down_shexp.weight": w(_N_EMBD, n_shared * n_ff_exp),
    }
    _finish(writer, tensors)
    return path
