"""Each architecture handler, on a GGUF header written the way Ollama's converter writes that
architecture: the translated file has llama.cpp's keys and tensor names, the hidden tensors are
gone, and every kept tensor's bytes are exactly the source's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from registry.errors import Unsupported
from registry.ggufcompat import plan_translation, write_translated
from tests.support.ollama_gguf import write_synthetic


def _translate(
    tmp_path: Path,
    arch: str,
    keys: dict[str, Any],
    tensors: dict[str, tuple[int, ...]],
    tokens: list[str] | None = None,
) -> tuple[Any, Any, tuple[str, ...]]:
    import gguf

    src = write_synthetic(tmp_path / "src.gguf", arch, keys, tensors, tokens=tokens)
    plan = plan_translation(src)
    assert plan is not None, "the handler did not recognize the Ollama layout"
    dest = tmp_path / "out.gguf"
    write_translated(src, plan, dest)
    before, after = gguf.GGUFReader(src), gguf.GGUFReader(dest)
    return before, after, plan.notes


def _kv(reader: Any, key: str) -> Any:
    field = reader.get_field(key)
    if field is None:
        return None
    value = field.contents()
    return value


def _names(reader: Any) -> set[str]:
    return {t.name for t in reader.tensors}


def _same_data(before: Any, after: Any, renames: dict[str, str]) -> None:
    """Every tensor of ``after`` holds the bytes of its source tensor in ``before``."""
    source = {t.name: t for t in before.tensors}
    inverse = {new: old for old, new in renames.items()}
    for t in after.tensors:
        original = source[inverse.get(t.name, t.name)]
        n = int(np.prod(t.shape))
        assert np.array_equal(np.asarray(t.data).ravel()[:n], np.asarray(original.data).ravel()[:n]), t.name


def test_gptoss(tmp_path: Path) -> None:
    before, after, notes = _translate(
        tmp_path,
        "gptoss",
        {"gptoss.block_count": 1, "gptoss.embedding_length": 8, "tokenizer.ggml.pre": "default"},
        {
            "blk.0.attn_out.weight": (8, 8),
            "blk.0.attn_sinks": (4,),
            "blk.0.ffn_norm.weight": (8,),
            "blk.0.ffn_gate_exps.weight": (2, 6, 8),
        },
    )
    assert _kv(after, "general.architecture") == "gpt-oss"
    assert _kv(after, "gpt-oss.block_count") == 1
    assert _kv(after, "gpt-oss.expert_feed_forward_length") == 6
    assert _kv(after, "gpt-oss.rope.scaling.type") == "yarn"
    assert _kv(after, "tokenizer.ggml.pre") == "gpt-4o"
    assert _names(after) == {
        "blk.0.attn_output.weight",
        "blk.0.attn_sinks.weight",
        "blk.0.post_attention_norm.weight",
        "blk.0.ffn_gate_exps.weight",
    }
    _same_data(
        before,
        after,
        {
            "blk.0.attn_out.weight": "blk.0.attn_output.weight",
            "blk.0.attn_sinks": "blk.0.attn_sinks.weight",
            "blk.0.ffn_norm.weight": "blk.0.post_attention_norm.weight",
        },
    )
    assert any("gpt-oss" in n for n in notes)


def test_lfm2(tmp_path: Path) -> None:
    before, after, _ = _translate(
        tmp_path,
        "lfm2",
        {"lfm2.feed_forward_length": 99},
        {"output_norm.weight": (8,), "blk.0.ffn_gate.weight": (12, 8)},
    )
    assert _names(after) == {"token_embd_norm.weight", "blk.0.ffn_gate.weight"}
    assert _kv(after, "lfm2.feed_forward_length") == 12
    assert _kv(after, "tokenizer.ggml.pre") == "lfm2"
    _same_data(before, after, {"output_norm.weight": "token_embd_norm.weight"})


def test_qwen3next(tmp_path: Path) -> None:
    before, after, _ = _translate(
        tmp_path,
        "qwen3next",
        {"qwen3next.attention.head_count_kv": [0, 2, 0, 4]},
        {"blk.0.ssm_dt": (4,), "blk.0.attn_q.weight": (8, 8)},
    )
    assert _kv(after, "qwen3next.attention.head_count_kv") == 4
    assert "blk.0.ssm_dt.bias" in _names(after)
    _same_data(before, after, {"blk.0.ssm_dt": "blk.0.ssm_dt.bias"})


def test_laguna(tmp_path: Path) -> None:
    _, after, _ = _translate(
        tmp_path,
        "laguna",
        {"laguna.rope.swa.dimension_count": 16, "laguna.rope.swa.freq_base": 1e4},
        {"blk.0.attn_g.weight": (8, 8)},
    )
    assert _kv(after, "laguna.rope.dimension_count_swa") == 16
    assert _kv(after, "laguna.rope.freq_base_swa") == pytest.approx(1e4)
    assert _names(after) == {"blk.0.attn_gate.weight"}


def test_olmo3_header(tmp_path: Path) -> None:
    _, after, _ = _translate(tmp_path, "olmo3", {"olmo3.block_count": 2}, {"blk.0.attn_q.weight": (8, 8)})
    assert _kv(after, "general.architecture") == "olmo2"
    assert _kv(after, "olmo2.block_count") == 2


def test_mistral3_hides_vision_and_renames_yarn(tmp_path: Path) -> None:
    before, after, _ = _translate(
        tmp_path,
        "mistral3",
        {
            "mistral3.rope.scaling.beta_fast": 32.0,
            "mistral3.rope.scaling.beta_slow": 1.0,
            "mistral3.rope.scaling.mscale_all_dim": 1.0,
            "mistral3.rope.scaling_beta": 0.1,
        },
        {
            "blk.0.attn_q.weight": (8, 8),
            "mm.linear_1.weight": (8, 4),
            "v.blk.0.attn_q.weight": (4, 4),
            "token_embd.weight": (16, 8),
        },
    )
    assert _kv(after, "mistral3.rope.scaling.yarn_beta_fast") == pytest.approx(32.0)
    assert _kv(after, "mistral3.rope.scaling.yarn_log_multiplier") == pytest.approx(1.0)
    assert _kv(after, "mistral3.attention.temperature_scale") == pytest.approx(0.1)
    assert _kv(after, "tokenizer.ggml.pre") == "tekken"
    assert _names(after) == {"blk.0.attn_q.weight", "token_embd.weight"}
    _same_data(before, after, {})


def test_glm4moelite(tmp_path: Path) -> None:
    _, after, _ = _translate(
        tmp_path,
        "glm4moelite",
        {
            "glm4moelite.attention.kv_lora_rank": 512,
            "glm4moelite.rope.dimension_count": 64,
            "glm4moelite.attention.key_length": 256,
            "glm4moelite.attention.value_length": 128,
            "glm4moelite.attention.head_count_kv": 20,
            "tokenizer.ggml.eos_token_ids": [10, 11, 12],
        },
        {"blk.0.attn_kv_a_mqa.weight": (8, 8)},
    )
    assert _kv(after, "general.architecture") == "deepseek2"
    assert _kv(after, "deepseek2.attention.head_count_kv") == 1
    assert _kv(after, "deepseek2.attention.key_length") == 576
    assert _kv(after, "deepseek2.attention.value_length") == 512
    assert _kv(after, "deepseek2.attention.key_length_mla") == 256
    assert _kv(after, "deepseek2.attention.value_length_mla") == 128  # the value head, not the key head
    assert _kv(after, "deepseek2.expert_group_count") == 1
    assert _kv(after, "tokenizer.ggml.eot_token_id") == 11
    assert _kv(after, "tokenizer.ggml.eom_token_id") == 12


def test_qwen25vl(tmp_path: Path) -> None:
    _, after, _ = _translate(
        tmp_path,
        "qwen25vl",
        {"qwen25vl.rope.mrope_section": [16, 24, 24]},
        {"blk.0.attn_q.weight": (8, 8), "v.patch_embd.weight": (4, 4)},
    )
    assert _kv(after, "general.architecture") == "qwen2vl"
    assert list(_kv(after, "qwen2vl.rope.dimension_sections")) == [16, 24, 24, 0]
    assert _names(after) == {"blk.0.attn_q.weight"}


def test_qwen3vl(tmp_path: Path) -> None:
    _, after, _ = _translate(
        tmp_path,
        "qwen3vl",
        {"qwen3vl.vision.deepstack_visual_indexes": [8, 16, 24]},
        {"blk.0.attn_q.weight": (8, 8), "v.blk.0.attn_qkv.weight": (4, 4)},
    )
    assert list(_kv(after, "qwen3vl.rope.dimension_sections")) == [24, 20, 20, 0]
    assert _kv(after, "qwen3vl.n_deepstack_layers") == 3
    assert _names(after) == {"blk.0.attn_q.weight"}


def test_qwen35_hides_mtp_and_vision(tmp_path: Path) -> None:
    before, after, _ = _translate(
        tmp_path,
        "qwen35",
        {
            "qwen35.attention.head_count_kv": [0, 0, 0, 2],
            "qwen35.rope.dimension_sections": [11, 11, 10],
            "qwen35.vision.block_count": 1,
        },
        {
            "blk.0.ssm_dt": (4,),
            "mtp.0.attn_q.weight": (8, 8),
            "v.patch.weight": (4, 4),
            "token_embd.weight": (16, 8),
        },
    )
    assert _kv(after, "qwen35.attention.head_count_kv") == 2
    assert list(_kv(after, "qwen35.rope.dimension_sections")) == [11, 11, 10, 0]
    assert _names(after) == {"blk.0.ssm_dt.bias", "token_embd.weight"}
    _same_data(before, after, {"blk.0.ssm_dt": "blk.0.ssm_dt.bias"})


def test_gemma3n_shrinks_the_embedding(tmp_path: Path) -> None:
    tokens = [f"t{i}" for i in range(10)] + ["<0x41>", "<unused0>"]
    before, after, _ = _translate(
        tmp_path,
        "gemma3n",
        {"tokenizer.ggml.token_type": [1] * 12, "gemma3n.rope.freq_base_local": 10000.0},
        {"token_embd.weight": (12, 4), "per_layer_token_embd.weight": (10, 4), "blk.0.x.weight": (4,)},
        tokens=tokens,
    )
    shapes = {t.name: tuple(int(d) for d in t.shape) for t in after.tensors}
    assert shapes["token_embd.weight"] == (4, 10)
    assert len(after.get_field("tokenizer.ggml.tokens").data) == 10
    assert list(_kv(after, "tokenizer.ggml.eos_token_ids")) == [1, 106]
    assert _kv(after, "gemma3n.rope.freq_base_swa") == pytest.approx(10000.0)
    _same_data(before, after, {})


def test_deepseekocr(tmp_path: Path) -> None:
    _, after, _ = _translate(
        tmp_path,
        "deepseekocr",
        {},
        {
            "blk.1.ffn_down_exps.weight": (4, 8, 896),
            "blk.1.ffn_down_shexp.weight": (8, 1792),
            "s.blk.0.w.weight": (4,),
            "v.w.weight": (4,),
            "mm.w.weight": (4,),
        },
    )
    assert _kv(after, "general.architecture") == "deepseek2-ocr"
    assert _kv(after, "deepseek2-ocr.expert_feed_forward_length") == 896
    assert _kv(after, "deepseek2-ocr.expert_shared_count") == 2
    assert _names(after) == {"blk.1.ffn_down_exps.weight", "blk.1.ffn_down_shexp.weight"}


def test_nemotron_h_omni_to_moe(tmp_path: Path) -> None:
    _, after, _ = _translate(
        tmp_path,
        "nemotron_h_omni",
        {"nemotron_h_omni.expert_count": 8, "nemotron_h_omni.block_count": 2, "nemotron_h_omni.vision.x": 1},
        {
            "blk.1.ffn_latent_in.weight": (16, 8),
            "blk.1.ffn_latent_out.weight": (8, 16),
            "a.w.weight": (4,),
            "v.w.weight": (4,),
            "mtp.0.w.weight": (4,),
        },
    )
    assert _kv(after, "general.architecture") == "nemotron_h_moe"
    assert _kv(after, "nemotron_h_moe.block_count") == 2
    assert _kv(after, "nemotron_h_moe.vision.x") is None
    assert _kv(after, "nemotron_h_moe.moe_latent_size") == 16
    assert _names(after) == {"blk.1.ffn_latent_down.weight", "blk.1.ffn_latent_up.weight"}


def test_llama3_tokenizer_stops_at_eot(tmp_path: Path) -> None:
    tokens = [f"t{i}" for i in range(128010)]
    tokens[128006], tokens[128009] = "<|start_header_id|>", "<|eot_id|>"
    _, after, notes = _translate(
        tmp_path,
        "llama",
        {"tokenizer.ggml.eos_token_id": 128001},
        {"token_embd.weight": (4, 4)},
        tokens=tokens,
    )
    assert _kv(after, "tokenizer.ggml.pre") == "llama-bpe"
    assert _kv(after, "tokenizer.ggml.eos_token_id") == 128009
    assert _kv(after, "tokenizer.ggml.eot_token_id") == 128009
    assert list(_kv(after, "tokenizer.ggml.eos_token_ids")) == [128009]
    assert any("Llama 3" in n for n in notes)


def test_snowflake_arctic_embed2_charsmap_decoded_from_base64(tmp_path: Path) -> None:
    import base64

    import gguf

    raw = bytes(range(7)) + b"charsmap"
    _, after, notes = _translate(
        tmp_path,
        "bert",
        {
            "tokenizer.ggml.model": "t5",
            "tokenizer.ggml.precompiled_charsmap": list(base64.b64encode(raw).decode().rstrip("=")),
        },
        {"token_embd.weight": (8, 4)},
    )
    field = after.get_field("tokenizer.ggml.precompiled_charsmap")
    assert field.types[-1] == gguf.GGUFValueType.UINT8
    assert bytes(field.contents()) == raw
    assert any("base64" in n for n in notes)


def test_glmocr_fuses_gate_and_up_into_one_ffn_up(tmp_path: Path) -> None:
    """llama.cpp's glm4 reads ``ffn_up`` of twice the width, gate half first: the translated
    tensor is the gate's bytes then the up's, taken from the blob as they are."""
    before, after, _ = _translate(
        tmp_path,
        "glmocr",
        {"glmocr.block_count": 1, "glmocr.attention.key_length": 16, "glmocr.rope.mrope_section": [2, 3, 3]},
        {
            "blk.0.attn_out.weight": (8, 8),
            "blk.0.ffn_gate.weight": (6, 8),
            "blk.0.ffn_up.weight": (6, 8),
            "blk.0.post_attn_norm.weight": (8,),
            "blk.0.post_ffn_norm.weight": (8,),
            "v.blk.0.attn_qkv.weight": (4, 4),
        },
        tokens=["a"],
    )
    assert _kv(after, "general.architecture") == "glm4"
    assert list(_kv(after, "glm4.rope.dimension_sections")) == [2, 3, 3, 0]
    assert _kv(after, "glm4.rope.dimension_count") == 16
    assert _names(after) == {
        "blk.0.attn_output.weight",
        "blk.0.ffn_up.weight",
        "blk.0.post_attention_norm.weight",
        "blk.0.post_ffw_norm.weight",
    }
    source = {t.name: np.asarray(t.data) for t in before.tensors}
    fused = next(t for t in after.tensors if t.name == "blk.0.ffn_up.weight")
    assert [int(d) for d in fused.shape] == [8, 12]
    expected = np.concatenate(
        [source["blk.0.ffn_gate.weight"].ravel(), source["blk.0.ffn_up.weight"].ravel()]
    )
    assert np.array_equal(np.asarray(fused.data).ravel(), expected)


def test_llama4_hides_vision(tmp_path: Path) -> None:
    _, after, _ = _translate(tmp_path, "llama4", {}, {"blk.0.attn_q.weight": (8, 8), "v.w.weight": (4,)})
    assert _names(after) == {"blk.0.attn_q.weight"}


def test_clip_projector_defaults_to_mlp(tmp_path: Path) -> None:
    _, after, _ = _translate(tmp_path, "clip", {"clip.has_vision_encoder": True}, {"mm.0.weight": (4, 4)})
    assert _kv(after, "clip.projector_type") == "mlp"


def test_gemma4_dense(tmp_path: Path) -> None:
    _, after, _ = _translate(
        tmp_path,
        "gemma4",
        {"tokenizer.ggml.model": "llama", "gemma4.block_count": 1},
        {"blk.0.attn_q.weight": (8, 8), "a.w.weight": (4,), "v.w.weight": (4,)},
    )
    assert _kv(after, "tokenizer.ggml.model") == "gemma4"
    assert _names(after) == {"blk.0.attn_q.weight"}


def test_gemma4_text_only_blob_gets_the_bpe_tokenizer(tmp_path: Path) -> None:
    _, after, _ = _translate(
        tmp_path,
        "gemma4",
        {"tokenizer.ggml.model": "llama", "gemma4.block_count": 1},
        {"blk.0.attn_q.weight": (8, 8)},
    )
    assert _kv(after, "tokenizer.ggml.model") == "gemma4"


def test_gemma4_moe_keeps_split_experts_and_renames_the_expert_scale(tmp_path: Path) -> None:
    """llama.cpp (llama-cpp-python 0.3.36) loads gate and up experts stored apart: kept as they are."""
    before, after, _ = _translate(
        tmp_path,
        "gemma4",
        {"gemma4.block_count": 1},
        {
            "blk.0.ffn_gate_exps.weight": (2, 4, 4),
            "blk.0.ffn_up_exps.weight": (2, 4, 4),
            "blk.0.ffn_gate_inp.per_expert_scale": (2,),
            "v.w.weight": (4,),
        },
    )
    assert _names(after) == {
        "blk.0.ffn_gate_exps.weight",
        "blk.0.ffn_up_exps.weight",
        "blk.0.ffn_down_exps.scale",
    }
    _same_data(before, after, {"blk.0.ffn_gate_inp.per_expert_scale": "blk.0.ffn_down_exps.scale"})


@pytest.mark.parametrize(
    ("arch", "keys", "tensors", "words"),
    [
        (
            "glmocr",
            {"glmocr.block_count": 1},
            {"blk.0.ffn_gate.weight": (8, 8), "blk.0.ffn_up.weight": (8, 4)},
            "GLM-OCR",
        ),
        ("mllama", {}, {"blk.0.attn_q.weight": (8, 8)}, "mllama"),
    ],
)
def test_layouts_no_translation_fixes_are_refused(
    tmp_path: Path, arch: str, keys: dict[str, Any], tensors: dict[str, tuple[int, ...]], words: str
) -> None:
    src = write_synthetic(tmp_path / "src.gguf", arch, keys, tensors)
    with pytest.raises(Unsupported, match=words):
        plan_translation(src)


def test_a_llama_cpp_gguf_needs_no_translation(tmp_path: Path) -> None:
    src = write_synthetic(
        tmp_path / "src.gguf",
        "gemma3",
        {"gemma3.attention.layer_norm_rms_epsilon": 1e-6},
        {"token_embd.weight": (16, 8)},
    )
    assert plan_translation(src) is None
