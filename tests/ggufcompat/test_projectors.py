"""The vision tower inside a monolithic Ollama blob, extracted as an mmproj: plain libmtmd refuses
the blob as a projector; the extracted file has llama.cpp's clip keys and names, shares every byte
of tensor data with the blob, and runs (image tokens reach the translated text model)."""

from __future__ import annotations

import base64
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from registry.ggufcompat import plan_translation, write_translated
from registry.ggufcompat.projectors import plan_projector
from registry.modelserver.scheduler import RunnerProcess
from runner.protocol import CompletionRequest, LoadOptions
from tests.support.ollama_gguf import (
    GEMMA3_VISION_IMAGE_TOKENS,
    write_ollama_gemma3,
    write_ollama_gemma3_vision,
    write_synthetic,
)
from tests.support.vision_gguf import write_png

pytest.importorskip("llama_cpp")

_MTMD_PROBE = """
import sys, llama_cpp
from llama_cpp import mtmd_cpp
llama_cpp.llama_backend_init()
model = llama_cpp.llama_model_load_from_file(sys.argv[1].encode(), llama_cpp.llama_model_default_params())
params = mtmd_cpp.mtmd_context_params_default()
params.use_gpu = False
ctx = mtmd_cpp.mtmd_init_from_file(sys.argv[2].encode(), model, params)
print("LOADED" if ctx else "REFUSED")
"""


def _mtmd_loads(text_model: Path, projector: Path) -> bool:
    done = subprocess.run(
        [sys.executable, "-c", _MTMD_PROBE, str(text_model), str(projector)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    return "LOADED" in done.stdout


def _extract(tmp_path: Path, blob: Path) -> tuple[Path, Path]:
    text_plan = plan_translation(blob)
    projector_plan = plan_projector(blob)
    assert text_plan is not None and projector_plan is not None and projector_plan.translation is not None
    text, mmproj = tmp_path / "text.gguf", tmp_path / "mmproj.gguf"
    write_translated(blob, text_plan, text)
    write_translated(blob, projector_plan.translation, mmproj)
    return text, mmproj


def test_gemma3_tower_is_extracted_with_llama_cpp_names_and_shared_bytes(tmp_path: Path) -> None:
    import gguf

    blob = write_ollama_gemma3_vision(tmp_path / "blob.gguf")
    _, mmproj = _extract(tmp_path, blob)
    before, after = gguf.GGUFReader(blob), gguf.GGUFReader(mmproj)
    keys = {name for name in after.fields if not name.startswith("GGUF.")}
    assert {k for k in keys if not k.startswith("general.")} >= {
        "clip.projector_type",
        "clip.has_vision_encoder",
        "clip.use_gelu",
        "clip.vision.block_count",
        "clip.vision.embedding_length",
        "clip.vision.projection_dim",
        "clip.vision.image_mean",
    }
    assert all(k.startswith(("general.", "clip.")) for k in keys)
    assert bytes(after.get_field("clip.projector_type").parts[-1]).decode() == "gemma3"
    names = {t.name for t in after.tensors}
    assert {
        "v.patch_embd.weight",
        "v.position_embd.weight",
        "v.blk.0.ln1.weight",
        "v.blk.0.ffn_down.weight",
    } <= names
    assert {"mm.input_projection.weight", "mm.soft_emb_norm.weight", "v.post_ln.bias"} <= names
    assert not any(n.startswith(("blk.", "token_embd")) for n in names)
    source = {t.name: t for t in before.tensors}
    renames = {
        "v.blk.0.ffn_down.weight": "v.blk.0.mlp.fc1.weight",
        "mm.input_projection.weight": "mm.mm_input_projection.weight",
    }
    for name, old in renames.items():
        new = next(t for t in after.tensors if t.name == name)
        assert np.array_equal(np.asarray(new.data), np.asarray(source[old].data))


def test_plain_libmtmd_refuses_the_blob_and_runs_the_extraction(tmp_path: Path) -> None:
    blob = write_ollama_gemma3_vision(tmp_path / "blob.gguf")
    text, mmproj = _extract(tmp_path, blob)
    assert not _mtmd_loads(text, blob)
    assert _mtmd_loads(text, mmproj)


async def test_image_tokens_reach_the_translated_text_model(tmp_path: Path) -> None:
    blob = write_ollama_gemma3_vision(tmp_path / "blob.gguf")
    text, mmproj = _extract(tmp_path, blob)
    runner = await RunnerProcess.start(LoadOptions(model=str(text), projectors=(str(mmproj),), num_ctx=256))
    try:
        await runner.wait_ready(60)
        image = base64.b64encode(write_png(40, 30)).decode()
        counts = []
        for prompt, images in (("the cat", ()), ("[img-0]the cat", ({"id": 0, "data": image},))):
            final: dict[str, Any] = {}
            request = CompletionRequest(prompt=prompt, options={"num_predict": 3, "seed": 2}, images=images)
            async for event in runner.completion(request):
                final = event if event.get("done") else final
            counts.append(final["prompt_eval_count"])
        assert counts[1] >= counts[0] + GEMMA3_VISION_IMAGE_TOKENS
    finally:
        await runner.stop()


def test_an_incomplete_tower_runs_text_only(tmp_path: Path) -> None:
    plan = plan_projector(write_ollama_gemma3(tmp_path / "partial.gguf"))
    assert plan is not None and plan.translation is None
    assert plan.refusal is not None and "incomplete" in plan.refusal


def test_towers_that_need_a_repack_are_refused_with_the_reason(tmp_path: Path) -> None:
    blob = write_synthetic(
        tmp_path / "mistral3.gguf",
        "mistral3",
        {"mistral3.vision.block_count": 1},
        {"v.blk.0.attn_q.weight": (4, 4), "mm.linear_1.weight": (4, 4), "token_embd.weight": (8, 4)},
    )
    plan = plan_projector(blob)
    assert plan is not None and plan.translation is None
    assert plan.refusal is not None and "RoPE permutation" in plan.refusal and "text-only" in plan.refusal


def test_text_models_and_plain_projectors_have_nothing_to_extract(tmp_path: Path, tiny_gguf: Path) -> None:
    from tests.support.vision_gguf import write_gemma3_projector

    assert plan_projector(tiny_gguf) is None
    assert plan_projector(write_gemma3_projector(tmp_path / "mmproj.gguf")) is None


def test_qwen25vl_keys_and_merger_names(tmp_path: Path) -> None:
    import gguf

    blob = write_synthetic(
        tmp_path / "qwen25vl.gguf",
        "qwen25vl",
        {
            "qwen25vl.embedding_length": 64,
            "qwen25vl.vision.block_count": 1,
            "qwen25vl.vision.embedding_length": 32,
            "qwen25vl.vision.attention.head_count": 2,
            "qwen25vl.vision.patch_size": 14,
            "qwen25vl.vision.spatial_merge_size": 2,
            "qwen25vl.vision.fullatt_block_indexes": [3, 7],
        },
        {
            "v.patch_embd_0.weight": (32, 3, 14, 14),
            "v.patch_embd_1.weight": (32, 3, 14, 14),
            "v.blk.0.ffn_up.weight": (48, 32),
            "v.merger.ln_q.weight": (32,),
            "v.merger.mlp.0.weight": (128, 128),
            "v.merger.mlp.2.weight": (64, 128),
            "token_embd.weight": (8, 64),
        },
    )
    plan = plan_projector(blob)
    assert plan is not None and plan.translation is not None
    write_translated(blob, plan.translation, tmp_path / "mmproj.gguf")
    after = gguf.GGUFReader(tmp_path / "mmproj.gguf")
    names = {t.name for t in after.tensors}
    assert names == {
        "v.patch_embd.weight",
        "v.patch_embd.weight.1",
        "v.blk.0.ffn_up.weight",
        "v.post_ln.weight",
        "mm.0.weight",
        "mm.2.weight",
    }
    value = {
        k: after.get_field(k).contents()
        for k in (
            "clip.projector_type",
            "clip.vision.n_wa_pattern",
            "clip.vision.projection_dim",
            "clip.vision.feed_forward_length",
        )
    }
    assert value == {
        "clip.projector_type": "qwen2.5vl_merger",
        "clip.vision.n_wa_pattern": 4,
        "clip.vision.projection_dim": 64,
        "clip.vision.feed_forward_length": 48,
    }
