"""Tiny hybrid (convolution or state-space layers beside attention) GGUFs written the way
Ollama's converter writes them: LFM2, Qwen3-Next, Nemotron-H. For the compatibility layer's load
tests; see :mod:`tests.support.ollama_gguf_moe` for the conventions (2 layers, random weights,
the converter version that wrote the published blobs). Deterministic: same arguments, same bytes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from tests.support.ollama_gguf import Tensors, _bpe_writer, _finish, _rng_weights

__all__ = ["write_ollama_lfm2", "write_ollama_nemotron_h", "write_ollama_qwen3next", "write_ollama_qwen35"]

_N_EMBD, _N_HEAD, _N_HEAD_KV, _HEAD_DIM = 64, 4, 2, 16


def _ones(n: int) -> np.ndarray[Any, Any]:
    return np.ones(n, np.float32)


def write_ollama_lfm2(path: Path, *, seed: int = 0) -> Path:
    """LFM2 as Ollama's first LFM2 converter (commit 01cf7445f) wrote it: the embedding norm as
    ``output_norm`` (llama.cpp reads ``token_embd_norm``), ``feed_forward_length`` from the
    config's ``intermediate_size`` and not the auto-adjusted width of the FFN tensors, the generic
    pre-tokenizer; a short-convolution layer (KV heads 0) then an attention layer, tied output."""
    writer, rows = _bpe_writer(path, "lfm2", ["<|pad|>", "<|startoftext|>", "<|im_end|>"], pre="default")
    w = _rng_weights(seed)
    n_ff, n_ff_config, l_cache = 128, 192, 3
    a = "lfm2"
    for key, value in {
        "vocab_size": rows,
        "block_count": 2,
        "embedding_length": _N_EMBD,
        "feed_forward_length": n_ff_config,
        "context_length": 256,
        "attention.head_count": _N_HEAD,
        "attention.key_length": _N_EMBD // _N_HEAD,
        "attention.value_length": _N_EMBD // _N_HEAD,
        "shortconv.l_cache": l_cache,
    }.items():
        writer.add_uint32(f"{a}.{key}", value)
    writer.add_array(f"{a}.attention.head_count_kv", [0, _N_HEAD_KV])
    writer.add_float32(f"{a}.attention.layer_norm_rms_epsilon", 1e-5)
    writer.add_float32(f"{a}.rope.freq_base", 1000000.0)
    writer.add_uint32("tokenizer.ggml.bos_token_id", 1)
    writer.add_uint32("tokenizer.ggml.eos_token_id", 2)
    writer.add_bool("tokenizer.ggml.add_bos_token", True)
    kv = _HEAD_DIM * _N_HEAD_KV
    tensors: Tensors = {
        "token_embd.weight": w(rows, _N_EMBD),
        "output_norm.weight": _ones(_N_EMBD),
    }
    for i in range(2):
        p = f"blk.{i}."
        tensors |= {
            p + "attn_norm.weight": _ones(_N_EMBD),
            p + "ffn_norm.weight": _ones(_N_EMBD),
            p + "ffn_gate.weight": w(n_ff, _N_EMBD),
            p + "ffn_up.weight": w(n_ff, _N_EMBD),
            p + "ffn_down.weight": w(_N_EMBD, n_ff),
        }
    tensors |= {
        "blk.0.shortconv.conv.weight": w(_N_EMBD, l_cache),
        "blk.0.shortconv.in_proj.weight": w(3 * _N_EMBD, _N_EMBD),
        "blk.0.shortconv.out_proj.weight": w(_N_EMBD, _N_EMBD),
        "blk.1.attn_q.weight": w(_N_EMBD, _N_EMBD),
        "blk.1.attn_k.weight": w(kv, _N_EMBD),
        "blk.1.attn_v.weight": w(kv, _N_EMBD),
        "blk.1.attn_output.weight": w(_N_EMBD, _N_EMBD),
        "blk.1.attn_q_norm.weight": _ones(_HEAD_DIM),
        "blk.1.attn_k_norm.weight": _ones(_HEAD_DIM),
    }
    _finish(writer, tensors)
    return path


def write_ollama_qwen3next(path: Path, *, seed: int = 0) -> Path:
    """Qwen3-Next as Ollama's first converter (commit 77eb2ca61) wrote it: a per-layer
    ``attention.head_count_kv`` array (0 for the linear-attention layers), the delta-net time-step
    bias as ``ssm_dt`` (llama.cpp: ``ssm_dt.bias``), ``in_proj_qkvz`` split into ``attn_qkv`` and
    ``attn_gate``; a gated-delta-net layer then a full-attention layer (interval 2), 4 experts
    plus a shared expert in each."""
    writer, rows = _bpe_writer(
        path, "qwen3next", ["<|endoftext|>", "<|im_start|>", "<|im_end|>"], pre="qwen2"
    )
    w = _rng_weights(seed)
    n_expert, n_used, n_ff_exp, n_ff_shexp = 4, 2, 32, 64
    k_heads, v_heads, head_kv_dim, conv_kernel = 2, 4, 16, 4
    key_dim, value_dim = k_heads * head_kv_dim, v_heads * head_kv_dim
    a = "qwen3next"
    for key, value in {
        "block_count": 2,
        "context_length": 256,
        "embedding_length": _N_EMBD,
        "feed_forward_length": 128,
        "attention.head_count": _N_HEAD,
        "attention.key_length": _HEAD_DIM,
        "attention.value_length": _HEAD_DIM,
        "rope.dimension_count": _HEAD_DIM // 4,
        "expert_count": n_expert,
        "expert_used_count": n_used,
        "expert_feed_forward_length": n_ff_exp,
        "expert_shared_feed_forward_length": n_ff_shexp,
        "ssm.inner_size": value_dim,
        "ssm.state_size": head_kv_dim,
        "ssm.group_count": k_heads,
        "ssm.time_step_rank": v_heads,
        "ssm.conv_kernel": conv_kernel,
        "full_attention_interval": 2,
    }.items():
        writer.add_uint32(f"{a}.{key}", value)
    writer.add_float32(f"{a}.attention.layer_norm_rms_epsilon", 1e-6)
    writer.add_float32(f"{a}.rope.freq_base", 10000000.0)
    writer.add_bool(f"{a}.norm_top_k_prob", True)
    writer.add_array(f"{a}.attention.head_count_kv", [0, _N_HEAD_KV])
    writer.add_uint32("tokenizer.ggml.eos_token_id", 0)
    writer.add_uint32("tokenizer.ggml.padding_token_id", 0)
    kv = _HEAD_DIM * _N_HEAD_KV
    tensors: Tensors = {
        "token_embd.weight": w(rows, _N_EMBD),
        "output.weight": w(rows, _N_EMBD),
        "output_norm.weight": _ones(_N_EMBD),
    }
    for i in range(2):
        p = f"blk.{i}."
        tensors |= {
            p + "attn_norm.weight": _ones(_N_EMBD),
            p + "post_attention_norm.weight": _ones(_N_EMBD),
            p + "ffn_gate_inp.weight": w(n_expert, _N_EMBD),
            p + "ffn_gate_exps.weight": w(n_expert, n_ff_exp, _N_EMBD),
            p + "ffn_up_exps.weight": w(n_expert, n_ff_exp, _N_EMBD),
            p + "ffn_down_exps.weight": w(n_expert, _N_EMBD, n_ff_exp),
            p + "ffn_gate_inp_shexp.weight": w(_N_EMBD),
            p + "ffn_gate_shexp.weight": w(n_ff_shexp, _N_EMBD),
            p + "ffn_up_shexp.weight": w(n_ff_shexp, _N_EMBD),
            p + "ffn_down_shexp.weight": w(_N_EMBD, n_ff_shexp),
        }
    tensors |= {
        "blk.0.attn_qkv.weight": w(2 * key_dim + value_dim, _N_EMBD),
        "blk.0.attn_gate.weight": w(value_dim, _N_EMBD),
        "blk.0.ssm_conv1d.weight": w(2 * key_dim + value_dim, conv_kernel),
        "blk.0.ssm_dt": w(v_heads),
        "blk.0.ssm_a": -np.exp(w(v_heads)),
        "blk.0.ssm_ba.weight": w(2 * v_heads, _N_EMBD),
        "blk.0.ssm_norm.weight": _ones(head_kv_dim),
        "blk.0.ssm_out.weight": w(_N_EMBD, value_dim),
        "blk.1.attn_q.weight": w(2 * _N_HEAD * _HEAD_DIM, _N_EMBD),
        "blk.1.attn_k.weight": w(kv, _N_EMBD),
        "blk.1.attn_v.weight": w(kv, _N_EMBD),
        "blk.1.attn_output.weight": w(_N_EMBD, _N_HEAD * _HEAD_DIM),
        "blk.1.attn_q_norm.weight": _ones(_HEAD_DIM),
        "blk.1.attn_k_norm.weight": _ones(_HEAD_DIM),
    }
    _finish(writer, tensors)
    return path


def write_ollama_nemotron_h(path: Path, *, omni: bool = False, seed: int = 0) -> Path:
    """Nemotron-H as Ollama's converter writes it: a Mamba-2 layer, a MoE layer and an attention
    layer (``hybrid_override_pattern`` "ME*": per-layer ``head_count_kv`` and
    ``feed_forward_length`` arrays say which is which), the MoE with a routing bias and a
    shared expert.

    Without ``omni``: ``nemotron_h_moe`` with Nemotron 3 Super's latent MoE, its projections named
    ``ffn_latent_in``/``ffn_latent_out`` (llama.cpp: ``ffn_latent_down``/``ffn_latent_up``) and no
    ``moe_latent_size`` key, and the multi-token-prediction head's tensors (``mtp.*``), which
    Ollama's converter copies under their Hugging Face names. With ``omni``: the unified
    ``nemotron_h_omni`` blob (nemotron3:33b), every key under ``nemotron_h_omni.``, the vision
    (``v.*``), audio (``a.*``) and projector (``mm.*``) tensors beside the text model."""
    arch = "nemotron_h_omni" if omni else "nemotron_h_moe"
    writer, rows = _bpe_writer(path, arch, ["<unk>", "<s>", "</s>", "<SPECIAL_10>"], pre="default")
    w = _rng_weights(seed)
    n_heads, head_dim, n_group, d_state, d_conv = 4, 16, 2, 16, 4
    d_inner = n_heads * head_dim
    n_expert, n_used, n_ff_exp, n_ff_shexp, latent = 4, 2, 32, 64, 32
    moe_width = _N_EMBD if omni else latent
    for key, value in {
        "block_count": 3,
        "context_length": 4096,
        "embedding_length": _N_EMBD,
        "attention.head_count": _N_HEAD,
        "attention.key_length": _HEAD_DIM,
        "attention.value_length": _HEAD_DIM,
        "ssm.conv_kernel": d_conv,
        "ssm.inner_size": d_inner,
        "ssm.state_size": d_state,
        "ssm.group_count": n_group,
        "ssm.time_step_rank": n_heads,
        "expert_count": n_expert,
        "expert_used_count": n_used,
        "expert_feed_forward_length": n_ff_exp,
        "expert_shared_count": 1,
        "expert_shared_feed_forward_length": n_ff_shexp,
    }.items():
        writer.add_uint32(f"{arch}.{key}", value)
    writer.add_float32(f"{arch}.attention.layer_norm_epsilon", 1e-5)
    writer.add_float32(f"{arch}.attention.layer_norm_rms_epsilon", 1e-5)
    writer.add_float32(f"{arch}.rope.freq_base", 10000.0)
    writer.add_array(f"{arch}.attention.head_count_kv", [0, 0, _N_HEAD_KV])
    writer.add_array(f"{arch}.feed_forward_length", [0, n_ff_exp, 0])
    writer.add_bool(f"{arch}.expert_weights_norm", True)
    writer.add_float32(f"{arch}.expert_weights_scale", 2.5)
    writer.add_uint32("tokenizer.ggml.bos_token_id", 1)
    writer.add_uint32("tokenizer.ggml.eos_token_id", 2)
    if omni:
        for key, value in {
            "block_count": 1,
            "embedding_length": 32,
            "patch_size": 16,
            "image_size": 32,
        }.items():
            writer.add_uint32(f"{arch}.vision.{key}", value)
        writer.add_uint32(f"{arch}.audio.block_count", 1)
    kv = _N_HEAD_KV * _HEAD_DIM
    tensors: Tensors = {
        "token_embd.weight": w(rows, _N_EMBD),
        "output.weight": w(rows, _N_EMBD),
        "output_norm.weight": _ones(_N_EMBD),
        "blk.0.attn_norm.weight": _ones(_N_EMBD),
        "blk.0.ssm_in.weight": w(2 * d_inner + 2 * n_group * d_state + n_heads, _N_EMBD),
        "blk.0.ssm_conv1d.weight": w(d_inner + 2 * n_group * d_state, d_conv),
        "blk.0.ssm_conv1d.bias": w(d_inner + 2 * n_group * d_state),
        "blk.0.ssm_dt.bias": w(n_heads),
        "blk.0.ssm_a": -np.exp(w(n_heads, 1)),
        "blk.0.ssm_d": _ones(n_heads).reshape(n_heads, 1),
        "blk.0.ssm_norm.weight": np.ones((n_group, d_inner // n_group), np.float32),
        "blk.0.ssm_out.weight": w(_N_EMBD, d_inner),
        "blk.1.attn_norm.weight": _ones(_N_EMBD),
        "blk.1.ffn_gate_inp.weight": w(n_expert, _N_EMBD),
        "blk.1.exp_probs_b.bias": w(n_expert),
        "blk.1.ffn_up_exps.weight": w(n_expert, n_ff_exp, moe_width),
        "blk.1.ffn_down_exps.weight": w(n_expert, moe_width, n_ff_exp),
        "blk.1.ffn_up_shexp.weight": w(n_ff_shexp, _N_EMBD),
        "blk.1.ffn_down_shexp.weight": w(_N_EMBD, n_ff_shexp),
        "blk.2.attn_norm.weight": _ones(_N_EMBD),
        "blk.2.attn_q.weight": w(_N_HEAD * _HEAD_DIM, _N_EMBD),
        "blk.2.attn_k.weight": w(kv, _N_EMBD),
        "blk.2.attn_v.weight": w(kv, _N_EMBD),
        "blk.2.attn_output.weight": w(_N_EMBD, _N_HEAD * _HEAD_DIM),
    }
    if omni:
        tensors |= {
            "v.patch_embd.weight": w(32, 3 * 16 * 16),
            "v.blk.0.attn_qkv.weight": w(96, 32),
            "a.conv1d.0.weight": w(32, 128),
            "a.blk.0.attn_q.weight": w(32, 32),
            "mm.0.weight": w(_N_EMBD, 32),
        }
    else:
        tensors |= {
            "blk.1.ffn_latent_in.weight": w(latent, _N_EMBD),
            "blk.1.ffn_latent_out.weight": w(_N_EMBD, latent),
            "mtp.layers.0.attn_norm.weight": _ones(_N_EMBD),
            "mtp.layers.0.mixer.experts.0.up_proj.weight": w(n_ff_exp, latent),
            "mtp.layers.0.mixer.experts.0.down_proj.weight": w(latent, n_ff_exp),
        }
    _finish(writer, tensors)
    return path


def write_ollama_qwen35(path: Path, *, moe: bool = False, seed: int = 0) -> Path:
    """Qwen 3.5 as Ollama's converter (the qwen3next converter before commit 9db4bdbad) wrote the
    published monolithic blobs: ``qwen35`` (``qwen35moe`` with ``moe``) with a per-layer
    ``attention.head_count_kv`` array, a 3-element ``rope.dimension_sections`` (llama.cpp reads 4),
    ``ssm.v_head_reordered``, ``rope.mrope_interleaved``, the vision keys and token ids; the
    delta-net time-step bias as ``ssm_dt``; the vision tower (``v.*``, with its merger) and the
    multi-token-prediction head (``mtp.*``, Hugging Face names) in the blob. A gated-delta-net layer
    then a full-attention layer; the MoE variant has 4 experts and a shared expert per layer."""
    arch = "qwen35moe" if moe else "qwen35"
    writer, rows = _bpe_writer(
        path, arch, ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|image_pad|>"], pre="qwen35"
    )
    w = _rng_weights(seed)
    n_ff, n_expert, n_ff_exp, n_ff_shexp = 128, 4, 32, 64
    k_heads, v_heads, head_kv_dim, conv_kernel = 2, 4, 16, 4
    key_dim, value_dim = k_heads * head_kv_dim, v_heads * head_kv_dim
    keys: dict[str, int] = {
        "block_count": 2,
        "context_length": 4096,
        "embedding_length": _N_EMBD,
        "feed_forward_length": n_ff,
        "attention.head_count": _N_HEAD,
        "attention.key_length": _HEAD_DIM,
        "attention.value_length": _HEAD_DIM,
        "rope.dimension_count": _HEAD_DIM // 2,
        "ssm.inner_size": value_dim,
        "ssm.state_size": head_kv_dim,
        "ssm.group_count": k_heads,
        "ssm.time_step_rank": v_heads,
        "ssm.conv_kernel": conv_kernel,
        "full_attention_interval": 2,
        "vision.block_count": 1,
        "vision.embedding_length": 32,
        "vision.attention.head_count": 2,
        "vision.num_channels": 3,
        "vision.patch_size": 16,
        "vision.spatial_merge_size": 2,
        "image_token_id": 3,
    }
    if moe:
        keys |= {"expert_count": n_expert, "expert_used_count": 2, "expert_feed_forward_length": n_ff_exp}
        keys["expert_shared_feed_forward_length"] = n_ff_shexp
    for key, value in keys.items():
        writer.add_uint32(f"{arch}.{key}", value)
    writer.add_float32(f"{arch}.attention.layer_norm_rms_epsilon", 1e-6)
    writer.add_float32(f"{arch}.rope.freq_base", 10000000.0)
    sections = [2, 3, 3]
    writer.add_array(f"{arch}.mrope_sections", sections)
    writer.add_array(f"{arch}.rope.mrope_section", sections)
    writer.add_array(f"{arch}.rope.dimension_sections", sections)
    writer.add_bool(f"{arch}.rope.mrope_interleaved", True)
    writer.add_bool(f"{arch}.ssm.v_head_reordered", True)
    writer.add_array(f"{arch}.attention.head_count_kv", [0, _N_HEAD_KV])
    writer.add_array(f"{arch}.vision.deepstack_visual_indexes", [])
    writer.add_uint32("tokenizer.ggml.eos_token_id", 2)
    kv = _HEAD_DIM * _N_HEAD_KV
    tensors: Tensors = {
        "token_embd.weight": w(rows, _N_EMBD),
        "output.weight": w(rows, _N_EMBD),
        "output_norm.weight": _ones(_N_EMBD),
        "v.patch_embed.weight": w(32, 3 * 2 * 16 * 16),
        "v.blk.0.attn_q.weight": w(32, 32),
        "v.merger.linear_fc1.weight": w(128, 128),
        "mtp.fc.weight": w(_N_EMBD, 2 * _N_EMBD),
        "mtp.pre_fc_norm_embedding.weight": _ones(_N_EMBD),
        "mtp.layers.0.self_attn.q_proj.weight": w(2 * _N_HEAD * _HEAD_DIM, _N_EMBD),
    }
    for i in range(2):
        p = f"blk.{i}."
        tensors |= {p + "attn_norm.weight": _ones(_N_EMBD), p + "post_attention_norm.weight": _ones(_N_EMBD)}
        if moe:
            tensors |= {
                p + "ffn_gate_inp.weight": w(n_expert, _N_EMBD),
                p + "ffn_gate_exps.weight": w(n_expert, n_ff_exp, _N_EMBD),
                p + "ffn_up_exps.weight": w(n_expert, n_ff_exp, _N_EMBD),
                p + "ffn_down_exps.weight": w(n_expert, _N_EMBD, n_ff_exp),
                p + "ffn_gate_inp_shexp.weight": w(_N_EMBD),
                p + "ffn_gate_shexp.weight": w(n_ff_shexp, _N_EMBD),
                p + "ffn_up_shexp.weight": w(n_ff_shexp, _N_EMBD),
                p + "ffn_down_shexp.weight": w(_N_EMBD, n_ff_shexp),
            }
        else:
            tensors |= {
                p + "ffn_gate.weight": w(n_ff, _N_EMBD),
                p + "ffn_up.weight": w(n_ff, _N_EMBD),
                p + "ffn_down.weight": w(_N_EMBD, n_ff),
            }
    tensors |= {
        "blk.0.attn_qkv.weight": w(2 * key_dim + value_dim, _N_EMBD),
        "blk.0.attn_gate.weight": w(value_dim, _N_EMBD),
        "blk.0.ssm_conv1d.weight": w(2 * key_dim + value_dim, conv_kernel),
        "blk.0.ssm_dt": w(v_heads),
        "blk.0.ssm_a": -np.exp(w(v_heads)),
        "blk.0.ssm_alpha.weight": w(v_heads, _N_EMBD),
        "blk.0.ssm_beta.weight": w(v_heads, _N_EMBD),
        "blk.0.ssm_norm.weight": _ones(head_kv_dim),
        "blk.0.ssm_out.weight": w(_N_EMBD, value_dim),
        "blk.1.attn_q.weight": w(2 * _N_HEAD * _HEAD_DIM, _N_EMBD),
        "blk.1.attn_k.weight": w(kv, _N_EMBD),
        "blk.1.attn_v.weight": w(kv, _N_EMBD),
        "blk.1.attn_output.weight": w(_N_EMBD, _N_HEAD * _HEAD_DIM),
        "blk.1.attn_q_norm.weight": _ones(_HEAD_DIM),
        "blk.1.attn_k_norm.weight": _ones(_HEAD_DIM),
    }
    _finish(writer, tensors)
    return path
