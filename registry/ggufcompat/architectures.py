"""Per-architecture translations of Ollama-converted GGUFs into what upstream llama.cpp loads.

Each handler is a pure function over :class:`~registry.ggufcompat.edits.HeaderEdits`: it detects
the Ollama converter's markers for one architecture and, when it finds them, edits keys and
tensor names and hides the tensors llama.cpp's text loader must not see. The facts come from
Ollama's ``llama/compat/llama-ollama-compat.cpp`` at commit
fb30760996871fa9460115c753afd2c60d4ab0f7; ``docs/gguf-compat.md`` lists them per architecture.

Handlers run in :data:`HANDLERS` order (as the shim's ``translate_metadata``); one that renames
the architecture (gptoss -> gpt-oss) makes later handlers for the old name see the new one.
Tensor data is never rewritten: a fused tensor (GLM-OCR's ``ffn_up``) is its sources' byte ranges
back to back. A handler that meets a layout no such translation fixes, or an architecture llama.cpp
lacks, raises :class:`~registry.errors.Unsupported` with the reason and the way out (the words are
in :mod:`registry.ggufcompat.unrunnable`). Each handler has a load test with a tiny model in
``tests/ggufcompat/test_llama_cpp_loads.py`` (llama-cpp-python 0.3.36), except the clip one.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable

from registry.errors import Unsupported
from registry.ggufcompat.edits import HeaderEdits
from registry.ggufcompat.unrunnable import LAYOUT_REFUSALS, UNRUNNABLE_FAMILIES

__all__ = ["HANDLERS", "Handler"]

Handler = Callable[[HeaderEdits], None]

_VISION = ("v.", "mm.")

#: Ollama's default Gemma 3 chat template (Jinja), injected when a blob has none.
GEMMA3_CHAT_TEMPLATE = (
    "{{ bos_token }}{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}"
    "{% endif %}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
    "{% if (message['role'] == 'assistant') %}{% set role = 'model' %}{% else %}{% set role = message['role'] %}"
    "{% endif %}{{ '<start_of_turn>' + role + '\n' + message['content'] | trim + '<end_of_turn>\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{'<start_of_turn>model\n'}}{% endif %}"
)


_PREFIX_NAMES = {
    "v.": "vision",
    "mm.": "projector",
    "a.": "audio",
    "s.": "SAM encoder",
    "model.vision_tower.": "vision",
    "mtp.": "multi-token prediction",
}


def _hide_vision(e: HeaderEdits, *prefixes: str) -> None:
    """Hide the tensors under ``prefixes`` (default: vision tower and projector) and say which."""
    prefixes = prefixes or _VISION
    present = [p for p in prefixes if e.any_tensor_with_prefix(p)]
    hidden = e.hide_tensors(*prefixes)
    if hidden:
        kinds = ", ".join(dict.fromkeys(_PREFIX_NAMES.get(p, p) for p in present))
        e.note(f"hides {hidden} tensors the text model does not use ({kinds})")


def _truncate_vocab(e: HeaderEdits, rows: int) -> None:
    tokens = e.array("tokenizer.ggml.tokens")
    if tokens is None or tokens.count <= rows:
        return
    e.note(f"truncates the tokenizer from {tokens.count} to {rows} tokens (the embedding's rows)")
    for key in ("tokenizer.ggml.tokens", "tokenizer.ggml.scores", "tokenizer.ggml.token_type"):
        e.truncate_array(key, rows)


def _missing_or_default(e: HeaderEdits, key: str) -> bool:
    value = e.string(key)
    return not e.has(key) or value in ("", "default")


def embeddinggemma(e: HeaderEdits) -> None:
    """gemma3 with ``dense.0.weight``: EmbeddingGemma, loaded by llama.cpp as gemma-embedding."""
    if e.architecture != "gemma3" or e.tensor("dense.0.weight") is None:
        return
    e.set_string("general.architecture", "gemma-embedding")
    e.mirror_prefix("gemma3.", "gemma-embedding.")
    e.remove_key("gemma-embedding.attention.causal")
    e.remove_key("gemma-embedding.attention.sliding_window_pattern")
    e.inject_f32("gemma-embedding.rope.freq_base_swa", 10000.0)
    d0, d1 = e.tensor("dense.0.weight"), e.tensor("dense.1.weight")
    if d0 is not None and d1 is not None and len(d0.shape) == 2 and len(d1.shape) == 2:
        e.set_u32("gemma-embedding.dense_2_feat_in", d0.shape[0])
        e.set_u32("gemma-embedding.dense_2_feat_out", d0.shape[1])
        e.set_u32("gemma-embedding.dense_3_feat_in", d1.shape[0])
        e.set_u32("gemma-embedding.dense_3_feat_out", d1.shape[1])
    e.rename_tensor("dense.0.weight", "dense_2.weight")
    e.rename_tensor("dense.1.weight", "dense_3.weight")
    e.rename_tensor("norm.weight", "output_norm.weight")
    e.note("architecture gemma3 (EmbeddingGemma) -> gemma-embedding; dense.0/1 -> dense_2/3")


def gemma3(e: HeaderEdits) -> None:
    """Gemma 3 as Ollama converts it: no rms epsilon, nested rope keys, extra multimodal tokens,
    the vision tower in the same blob."""
    if e.architecture != "gemma3":
        return
    markers = (
        e.has("gemma3.mm.tokens_per_image")
        or e.any_tensor_with_prefix("v.")
        or e.any_tensor_with_prefix("mm.")
        or e.has("gemma3.rope.global.freq_base")
        or e.has("gemma3.rope.local.freq_base")
        or e.has("tokenizer.ggml.add_padding_token")
        or e.has("tokenizer.ggml.add_unknown_token")
        or not e.has("gemma3.attention.layer_norm_rms_epsilon")
    )
    if not markers:
        return
    e.copy_key("gemma3.rope.global.freq_base", "gemma3.rope.freq_base")
    e.copy_key("gemma3.rope.local.freq_base", "gemma3.rope.freq_base_swa")
    if not e.has("gemma3.attention.layer_norm_rms_epsilon"):
        e.note("adds gemma3.attention.layer_norm_rms_epsilon = 1e-6 (Ollama's converter omits it)")
    e.inject_f32("gemma3.attention.layer_norm_rms_epsilon", 1e-6)
    e.inject_f32("gemma3.rope.freq_base", 1000000.0)
    e.inject_f32("gemma3.rope.freq_base_swa", 10000.0)
    e.inject_string("tokenizer.chat_template", GEMMA3_CHAT_TEMPLATE)
    context = e.number("gemma3.context_length")
    if context is not None and context >= 131072:
        e.inject_string("gemma3.rope.scaling.type", "linear")
        e.inject_f32("gemma3.rope.scaling.factor", 8.0)
    embd = e.tensor("token_embd.weight")
    if embd is not None and len(embd.shape) == 2:
        _truncate_vocab(e, embd.shape[1])
    _hide_vision(e)
    e.note("Gemma 3 keys normalized to llama.cpp's names")


def snowflake_arctic_embed2(e: HeaderEdits) -> None:
    """Snowflake Arctic Embed 2 (``bert`` with the ``t5`` Unigram tokenizer): the SentencePiece
    normalization map stored as a base64 text, one character per string-array element; llama.cpp
    reads it as bytes (a uint8 array) and refuses any other type."""
    if e.architecture != "bert" or e.string("tokenizer.ggml.model") != "t5":
        return
    key = "tokenizer.ggml.precompiled_charsmap"
    charsmap = e.array(key)
    if charsmap is None or not isinstance(charsmap.items, tuple):
        return
    if any(len(ch) != 1 for ch in charsmap.items):
        return
    text = b"".join(charsmap.items).rstrip(b"=")
    try:
        decoded = base64.b64decode(text + b"=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        return
    if decoded:
        e.set_u8_array(key, decoded)
        e.note(
            f"tokenizer normalization map decoded from base64 to {len(decoded)} bytes (Snowflake Arctic Embed 2)"
        )


def gemma3n(e: HeaderEdits) -> None:
    """Gemma 3n: the multimodal vocabulary cut to the per-layer embedding's, EOS 106 added."""
    if e.architecture != "gemma3n":
        return
    te, pe = e.tensor("token_embd.weight"), e.tensor("per_layer_token_embd.weight")
    if te is None or pe is None or len(te.shape) < 2 or len(pe.shape) < 2 or te.shape[1] == pe.shape[1]:
        return
    target = pe.shape[1]
    e.set_string("tokenizer.ggml.model", "llama")
    e.shrink_outer("token_embd.weight", target)
    _truncate_vocab(e, target)
    types = e.array("tokenizer.ggml.token_type")
    tokens = e.array("tokenizer.ggml.tokens")
    if types is not None and tokens is not None and types.item_type == 5:
        values = [int(v) for v in types.numbers()]
        for i, tok in enumerate(tokens.strings()[: len(values)]):
            if re.fullmatch(rb"<0x[0-9A-Fa-f]{2}>", tok):
                values[i] = 6
            elif tok.startswith(b"<unused"):
                values[i] = 1
        e.set_i32_array("tokenizer.ggml.token_type", values)
    eos = e.array("tokenizer.ggml.eos_token_ids")
    ids = [int(v) for v in eos.numbers()] if eos is not None else [1]
    if 106 not in ids:
        ids.append(106)
    e.set_i32_array("tokenizer.ggml.eos_token_ids", ids)
    # Beyond Ollama's shim: the sliding-window layers' RoPE base is Ollama's rope.freq_base_local;
    # under llama.cpp's name, or llama.cpp gives those layers the global base (1e6, not 1e4).
    if e.has("gemma3n.rope.freq_base_local") and not e.has("gemma3n.rope.freq_base_swa"):
        e.copy_key("gemma3n.rope.freq_base_local", "gemma3n.rope.freq_base_swa")
        e.note("Gemma 3n rope.freq_base_local -> rope.freq_base_swa (the sliding layers' RoPE base)")
    e.note(f"Gemma 3n vocabulary cut to {target} tokens; <end_of_turn> (106) made an end-of-generation token")


def gemma4(e: HeaderEdits) -> None:
    """Gemma 4: the BPE tokenizer named ``gemma4`` (Ollama writes ``llama``, so its control tokens
    split into pieces), audio/vision/projector tensors hidden, the per-expert scale renamed.

    MoE blobs whose gate and up experts are stored apart stay apart: the llama.cpp of
    llama-cpp-python 0.3.36 loads ``ffn_gate_exps``/``ffn_up_exps`` when ``ffn_gate_up_exps`` is
    absent (Ollama's shim fuses them for the llama.cpp it pins; no data repack is needed here)."""
    if e.architecture != "gemma4":
        return
    if not (
        e.any_tensor_with_prefix("v.")
        or e.any_tensor_with_prefix("a.")
        or e.any_tensor_with_prefix("mm.")
        or e.any_tensor_with_prefix("model.vision_tower.")
        or e.string("tokenizer.ggml.model") == "llama"
    ):
        return
    if e.string("tokenizer.ggml.model") == "llama":
        e.set_string("tokenizer.ggml.model", "gemma4")
        e.note("Gemma 4 tokenizer named gemma4 (BPE), not llama (SentencePiece)")
    _hide_vision(e, "a.", "v.", "mm.", "model.vision_tower.")
    blocks = int(e.number("gemma4.block_count") or 0)
    for b in range(blocks):
        e.rename_tensor(f"blk.{b}.ffn_gate_inp.per_expert_scale", f"blk.{b}.ffn_down_exps.scale")


def _qwen_ssm_dt(e: HeaderEdits) -> None:
    e.rename_tensors_ending(".ssm_dt", ".ssm_dt.bias")


def qwen35(e: HeaderEdits) -> None:
    """Qwen 3.5 (dense and MoE) monolithic blobs: per-layer KV heads collapsed, 4-element M-RoPE
    sections, ssm_dt renamed; the vision tower and the multi-token-prediction head hidden (MTP
    only speeds up speculative decoding, which the runner does not use)."""
    arch = e.architecture
    if arch not in ("qwen35", "qwen35moe"):
        return
    markers = (
        e.has(f"{arch}.vision.block_count")
        or e.has(f"{arch}.image_token_id")
        or e.has(f"{arch}.ssm.v_head_reordered")
        or e.has(f"{arch}.rope.mrope_interleaved")
        or (arch == "qwen35moe" and e.has("qwen35moe.feed_forward_length"))
        or e.any_tensor_with_prefix("mtp.")
        or e.any_tensor_with_prefix("v.")
    )
    if not markers:
        return
    e.collapse_array_to_max(f"{arch}.attention.head_count_kv")
    sections = e.array(f"{arch}.rope.dimension_sections")
    if sections is not None and sections.count == 3:
        e.set_i32_array(f"{arch}.rope.dimension_sections", [*(int(v) for v in sections.numbers()), 0])
    _qwen_ssm_dt(e)
    _hide_vision(e, "v.", "mm.", "mtp.")
    e.note(f"{arch} keys normalized; multi-token-prediction tensors not loaded")


def qwen3next(e: HeaderEdits) -> None:
    """Qwen3-Next: per-layer KV heads collapsed to one value, ``ssm_dt`` -> ``ssm_dt.bias``."""
    if e.architecture != "qwen3next" or not any(n.endswith(".ssm_dt") for n in e.tensor_names()):
        return
    e.collapse_array_to_max("qwen3next.attention.head_count_kv")
    _qwen_ssm_dt(e)
    e.note("qwen3next: ssm_dt tensors renamed to ssm_dt.bias; head_count_kv collapsed")


def laguna(e: HeaderEdits) -> None:
    """Laguna: SWA rope keys renamed, ``attn_g`` -> ``attn_gate``."""
    if e.architecture != "laguna":
        return
    if not (
        e.has("laguna.rope.swa.dimension_count")
        or e.has("laguna.rope.swa.freq_base")
        or e.tensor("blk.0.attn_g.weight")
    ):
        return
    e.copy_key("laguna.rope.swa.dimension_count", "laguna.rope.dimension_count_swa")
    e.copy_key("laguna.rope.swa.freq_base", "laguna.rope.freq_base_swa")
    e.rename_tensors_ending(".attn_g.weight", ".attn_gate.weight")
    e.note("laguna: SWA rope keys and attention-gate tensors renamed")


def gptoss(e: HeaderEdits) -> None:
    """gpt-oss as Ollama names it (``gptoss``): architecture renamed, expert FFN length derived,
    the gpt-4o pre-tokenizer named, three tensor renames."""
    if e.architecture != "gptoss":
        return
    e.set_string("general.architecture", "gpt-oss")
    e.mirror_prefix("gptoss.", "gpt-oss.")
    gate = e.tensor("blk.0.ffn_gate_exps.weight")
    if not e.has("gpt-oss.expert_feed_forward_length") and gate is not None and len(gate.shape) >= 2:
        e.set_u32("gpt-oss.expert_feed_forward_length", gate.shape[1])
    e.inject_string("gpt-oss.rope.scaling.type", "yarn")
    e.set_string("tokenizer.ggml.pre", "gpt-4o")
    e.rename_tensors_containing(".attn_out", ".attn_output")
    e.rename_tensors_containing(".attn_sinks", ".attn_sinks.weight")
    e.rename_tensors_containing(".ffn_norm", ".post_attention_norm")
    e.note("architecture gptoss -> gpt-oss; attention and norm tensors renamed")


def lfm2(e: HeaderEdits) -> None:
    """LFM2: ``output_norm`` -> ``token_embd_norm``, the lfm2 pre-tokenizer, FFN length from the
    tensor."""
    if (
        e.architecture != "lfm2"
        or e.tensor("output_norm.weight") is None
        or e.tensor("token_embd_norm.weight")
    ):
        return
    e.rename_tensor("output_norm.weight", "token_embd_norm.weight")
    e.set_string("tokenizer.ggml.pre", "lfm2")
    gate = e.tensor("blk.0.ffn_gate.weight")
    if gate is not None and len(gate.shape) == 2 and e.number("lfm2.feed_forward_length") != gate.shape[1]:
        e.set_u32("lfm2.feed_forward_length", gate.shape[1])
    e.note("lfm2: output_norm renamed token_embd_norm")


def olmo3(e: HeaderEdits) -> None:
    """OLMo 3: loaded by llama.cpp's olmo2 code (same tensors, SWA rope included)."""
    if e.architecture != "olmo3":
        return
    e.set_string("general.architecture", "olmo2")
    e.mirror_prefix("olmo3.", "olmo2.")
    e.note("architecture olmo3 -> olmo2")


def mistral3(e: HeaderEdits) -> None:
    """Mistral 3 monolithic blobs: YaRN keys renamed, tekken pre-tokenizer, vision hidden."""
    if e.architecture != "mistral3":
        return
    if not (
        e.any_tensor_with_prefix("v.")
        or e.any_tensor_with_prefix("mm.")
        or e.has("mistral3.rope.scaling.beta_fast")
        or e.has("mistral3.rope.scaling.mscale_all_dim")
        or e.has("mistral3.rope.scaling_beta")
    ):
        return
    e.copy_key("mistral3.rope.scaling.beta_fast", "mistral3.rope.scaling.yarn_beta_fast")
    e.copy_key("mistral3.rope.scaling.beta_slow", "mistral3.rope.scaling.yarn_beta_slow")
    e.copy_key("mistral3.rope.scaling.mscale_all_dim", "mistral3.rope.scaling.yarn_log_multiplier")
    e.copy_key("mistral3.rope.scaling_beta", "mistral3.attention.temperature_scale")
    if _missing_or_default(e, "tokenizer.ggml.pre"):
        e.set_string("tokenizer.ggml.pre", "tekken")
    _hide_vision(e)
    e.note("mistral3: YaRN keys renamed")


def glm4moelite(e: HeaderEdits) -> None:
    """GLM-4.7 Flash (``glm4moelite``): loaded as deepseek2 with MLA-absorbed key/value sizes."""
    if e.architecture != "glm4moelite":
        return
    e.set_string("general.architecture", "deepseek2")
    e.mirror_prefix("glm4moelite.", "deepseek2.")
    e.set_u32("deepseek2.attention.head_count_kv", 1)
    kv_lora, rope = e.number("deepseek2.attention.kv_lora_rank"), e.number("deepseek2.rope.dimension_count")
    if kv_lora is not None and rope is not None:
        e.set_u32("deepseek2.attention.key_length", int(kv_lora) + int(rope))
        e.set_u32("deepseek2.attention.value_length", int(kv_lora))
    # The *_mla keys are the per-head sizes: the key head (nope + rope) and the value head. Ollama's
    # shim sets both to the key head, right only where they are equal (GLM-4.7 Flash: 256 and 256);
    # the value head is the original value_length (v_head_dim), as attn_v_b's shape says.
    head_k = e.number("glm4moelite.attention.key_length")
    head_v = e.number("glm4moelite.attention.value_length")
    if head_k is not None:
        e.set_u32("deepseek2.attention.key_length_mla", int(head_k))
        e.set_u32("deepseek2.attention.value_length_mla", int(head_v if head_v is not None else head_k))
    e.inject_u32("deepseek2.expert_group_count", 1)
    e.inject_u32("deepseek2.expert_group_used_count", 1)
    e.set_string("tokenizer.ggml.pre", "glm4")
    eos = e.array("tokenizer.ggml.eos_token_ids")
    ids = [int(v) for v in eos.numbers() if int(v) >= 0] if eos is not None else []
    if not e.has("tokenizer.ggml.eot_token_id") and len(ids) >= 2:
        e.set_u32("tokenizer.ggml.eot_token_id", ids[1])
    if not e.has("tokenizer.ggml.eom_token_id") and len(ids) >= 3:
        e.set_u32("tokenizer.ggml.eom_token_id", ids[2])
    e.note("architecture glm4moelite -> deepseek2 (MLA key/value sizes)")


def qwen25vl(e: HeaderEdits) -> None:
    """Qwen2.5-VL: loaded as qwen2vl, M-RoPE sections padded to four, vision hidden."""
    if e.architecture != "qwen25vl":
        return
    e.set_string("general.architecture", "qwen2vl")
    e.mirror_prefix("qwen25vl.", "qwen2vl.")
    sections = e.array("qwen2vl.rope.mrope_section")
    if sections is not None and sections.count >= 3:
        e.set_i32_array("qwen2vl.rope.dimension_sections", [*(int(v) for v in sections.numbers()[:3]), 0])
    _hide_vision(e)
    e.note("architecture qwen25vl -> qwen2vl")


def qwen3vl(e: HeaderEdits) -> None:
    """Qwen3-VL (dense, MoE): M-RoPE sections and deepstack count added, vision hidden."""
    arch = e.architecture
    if arch not in ("qwen3vl", "qwen3vlmoe") or e.has(f"{arch}.rope.dimension_sections"):
        return
    e.set_i32_array(f"{arch}.rope.dimension_sections", [24, 20, 20, 0])
    indexes = e.array(f"{arch}.vision.deepstack_visual_indexes")
    e.inject_u32(f"{arch}.n_deepstack_layers", indexes.count if indexes is not None else 0)
    _hide_vision(e)
    e.note(f"{arch}: M-RoPE sections [24, 20, 20, 0] added")


def deepseekocr(e: HeaderEdits) -> None:
    """DeepSeek-OCR: loaded as deepseek2-ocr; expert sizes derived; SAM/vision hidden."""
    if e.architecture != "deepseekocr":
        return
    e.set_string("general.architecture", "deepseek2-ocr")
    e.mirror_prefix("deepseekocr.", "deepseek2-ocr.")
    e.inject_f32("deepseek2-ocr.attention.layer_norm_rms_epsilon", 1e-6)
    down = e.tensor("blk.1.ffn_down_exps.weight")
    if not e.has("deepseek2-ocr.expert_feed_forward_length") and down is not None:
        e.set_u32("deepseek2-ocr.expert_feed_forward_length", down.shape[0])
    shexp, ff = e.tensor("blk.1.ffn_down_shexp.weight"), e.number("deepseek2-ocr.expert_feed_forward_length")
    if not e.has("deepseek2-ocr.expert_shared_count") and shexp is not None and ff:
        e.set_u32("deepseek2-ocr.expert_shared_count", shexp.shape[0] // int(ff))
    _hide_vision(e, "s.", "v.", "mm.")
    e.note("architecture deepseekocr -> deepseek2-ocr")


def nemotron_h_omni(e: HeaderEdits) -> None:
    """Nemotron H omni blobs: the text model is nemotron_h or nemotron_h_moe; audio/vision hidden."""
    if e.architecture != "nemotron_h_omni":
        return
    if not (
        e.any_tensor_with_prefix("v.") or e.any_tensor_with_prefix("a.") or e.any_tensor_with_prefix("mm.")
    ):
        return
    experts = (e.number("nemotron_h_omni.expert_count") or 0) or (
        e.number("nemotron_h_omni.expert_used_count") or 0
    )
    text_arch = "nemotron_h_moe" if experts else "nemotron_h"
    e.set_string("general.architecture", text_arch)
    for key in [k.key for k in e.header.kvs if k.key.startswith("nemotron_h_omni.")]:
        suffix = key[len("nemotron_h_omni.") :]
        if not suffix.startswith(("vision.", "audio.")):
            e.copy_key(key, f"{text_arch}.{suffix}")
    _hide_vision(e, "a.", "v.", "mm.")
    e.note(f"architecture nemotron_h_omni -> {text_arch}")


def nemotron_h_moe(e: HeaderEdits) -> None:
    """Nemotron H MoE: latent FFN tensors renamed, their size derived; MTP hidden."""
    if e.architecture != "nemotron_h_moe":
        return
    if not (
        e.any_tensor_with_prefix("blk.0.ffn_latent_in")
        or e.any_tensor_with_prefix("blk.1.ffn_latent_in")
        or e.any_tensor_with_prefix("mtp.")
    ):
        return
    if not e.has("nemotron_h_moe.moe_latent_size"):
        latent = next((e.tensor(n) for n in e.tensor_names() if n.endswith(".ffn_latent_in.weight")), None)
        if latent is not None and len(latent.shape) >= 2:
            e.set_u32("nemotron_h_moe.moe_latent_size", latent.shape[1])
    e.rename_tensors_containing(".ffn_latent_in", ".ffn_latent_down")
    e.rename_tensors_containing(".ffn_latent_out", ".ffn_latent_up")
    _hide_vision(e, "mtp.")
    e.note("nemotron_h_moe: latent FFN tensors renamed")


def glmocr(e: HeaderEdits) -> None:
    """GLM-OCR (``glmocr``): loaded as ``glm4``, whose FFN is one ``ffn_up`` tensor holding the
    gate half then the up half; Ollama's blobs store the halves apart, so the translated file
    writes the two byte ranges back to back under ``ffn_up`` (no data changes)."""
    if e.architecture != "glmocr":
        return
    e.set_string("general.architecture", "glm4")
    e.mirror_prefix("glmocr.", "glm4.")
    sections = e.array("glm4.rope.mrope_section")
    if sections is not None and sections.count == 3:
        e.set_i32_array("glm4.rope.dimension_sections", [*(int(v) for v in sections.numbers()), 0])
    e.copy_key("glm4.attention.key_length", "glm4.rope.dimension_count")
    if e.has("tokenizer.ggml.pre") and e.string("tokenizer.ggml.pre") != "chatglm-bpe":
        e.set_string("tokenizer.ggml.pre", "chatglm-bpe")
    e.rename_tensors_containing(".attn_out.", ".attn_output.")
    e.rename_tensors_containing(".post_attn_norm.", ".post_attention_norm.")
    e.rename_tensors_containing(".post_ffn_norm.", ".post_ffw_norm.")
    fused = 0
    for b in range(int(e.number("glm4.block_count") or 0)):
        gate, up = f"blk.{b}.ffn_gate.weight", f"blk.{b}.ffn_up.weight"
        if e.tensor(gate) is None:
            continue
        if not e.concat_outer(gate, up, up):
            raise Unsupported(LAYOUT_REFUSALS["glmocr"])
        fused += 1
    _hide_vision(e)
    e.note(f"architecture glmocr -> glm4; FFN gate and up halves of {fused} layers laid out as one ffn_up")


def mllama(e: HeaderEdits) -> None:
    """Llama 3.2 Vision as Ollama converts it (``mllama``): llama.cpp has no such architecture."""
    if e.architecture == "mllama":
        raise Unsupported(UNRUNNABLE_FAMILIES["mllama"])


def llama3_tokenizer(e: HeaderEdits) -> None:
    """Llama 3 blobs without a pre-tokenizer or with EOS on <|end_of_text|>: llama-bpe and
    <|eot_id|> (128009), so generation stops at the end of a turn."""
    if e.architecture != "llama" or e.token(128009) != "<|eot_id|>":
        return
    template = e.string("tokenizer.chat_template") or ""
    markers = (
        e.token(128006) == "<|start_header_id|>"
        or "<|start_header_id|>" in template
        or "<|eot_id|>" in template
    )
    eos = e.number("tokenizer.ggml.eos_token_id")
    missing_pre = _missing_or_default(e, "tokenizer.ggml.pre")
    if not (markers and (missing_pre or eos == 128001)):
        return
    if missing_pre:
        e.set_string("tokenizer.ggml.pre", "llama-bpe")
    if eos is None or eos == 128001:
        e.set_u32("tokenizer.ggml.eos_token_id", 128009)
    eot = e.number("tokenizer.ggml.eot_token_id")
    if eot is None or eot == 128001:
        e.set_u32("tokenizer.ggml.eot_token_id", 128009)
    e.set_i32_array("tokenizer.ggml.eos_token_ids", [128009])
    e.note("Llama 3 tokenizer: pre-tokenizer llama-bpe, end of generation at <|eot_id|>")


def llama4(e: HeaderEdits) -> None:
    """Llama 4 monolithic blobs: the vision tower hidden from the text model."""
    if e.architecture == "llama4":
        _hide_vision(e)


def clip_projector_type(e: HeaderEdits) -> None:
    """LLaVA/BakLLaVA projectors with no projector type: ``clip.projector_type = mlp``."""
    if e.architecture != "clip" or not e.number("clip.has_vision_encoder"):
        return
    if not e.has("clip.projector_type") and not e.has("clip.vision.projector_type"):
        e.set_string("clip.projector_type", "mlp")
        e.note("LLaVA projector without a type: clip.projector_type = mlp")


#: The handlers, in the order Ollama's ``translate_metadata`` runs them.
HANDLERS: tuple[Handler, ...] = (
    embeddinggemma,
    gemma3,
    snowflake_arctic_embed2,
    gemma3n,
    gemma4,
    qwen35,
    qwen3next,
    laguna,
    gptoss,
    lfm2,
    olmo3,
    mistral3,
    qwen25vl,
    qwen3vl,
    glm4moelite,
    deepseekocr,
    nemotron_h_omni,
    nemotron_h_moe,
    llama3_tokenizer,
    llama4,
    glmocr,
    mllama,
    clip_projector_type,
)
