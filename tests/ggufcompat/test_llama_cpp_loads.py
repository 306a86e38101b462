"""The tiny Ollama-style GGUFs fail in plain llama-cpp-python, for the reason the published blob
fails, and load and generate once translated (llama.cpp runs in a child process: a refused file
may abort it)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path

import pytest

from registry.ggufcompat import plan_translation, write_translated
from tests.support.ollama_gguf import (
    write_ollama_embeddinggemma,
    write_ollama_gemma3,
    write_ollama_gemma3n,
    write_ollama_glmocr,
    write_ollama_llama3,
    write_ollama_llama_like,
    write_ollama_olmo3,
    write_ollama_snowflake_arctic_embed2,
)
from tests.support.ollama_gguf_hybrid import (
    write_ollama_lfm2,
    write_ollama_nemotron_h,
    write_ollama_qwen3next,
    write_ollama_qwen35,
)
from tests.support.ollama_gguf_moe import (
    write_ollama_deepseekocr,
    write_ollama_gemma4,
    write_ollama_glm4moelite,
    write_ollama_gptoss,
    write_ollama_laguna,
    write_ollama_llama4,
)

pytest.importorskip("llama_cpp")

_PROBE = """
import sys, llama_cpp
path, embed = sys.argv[1], sys.argv[2] == "1"
try:
    llm = llama_cpp.Llama(path, n_ctx=128, verbose=True, embedding=embed, seed=1)
except Exception as err:
    print("LOAD-FAILED", err); sys.exit(3)
if embed:
    print("DIMS", len(llm.embed("hello world")))
else:
    out = llm("the", max_tokens=8, temperature=0)["choices"][0]["text"]
    print("TOKENS", len(llm.tokenize(out.encode(), add_bos=False, special=True)))
"""


def _probe(path: Path, embed: bool) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _PROBE, str(path), "1" if embed else "0"],
        capture_output=True,
        text=True,
        timeout=120,
    )


def _load_error(result: subprocess.CompletedProcess[str]) -> str:
    """llama.cpp's own reason, from its log ("error loading model: ...")."""
    lines = [line for line in result.stderr.splitlines() if "error loading model" in line]
    return lines[-1] if lines else result.stdout + result.stderr[-2000:]


Writer = Callable[[Path], Path]

CASES = [
    pytest.param(
        write_ollama_gemma3,
        False,
        "key not found in model: gemma3.attention.layer_norm_rms_epsilon",
        id="gemma3",
    ),
    pytest.param(
        write_ollama_embeddinggemma, True, "tensor 'output_norm.weight' not found", id="embeddinggemma"
    ),
    pytest.param(
        write_ollama_snowflake_arctic_embed2,
        True,
        "invalid gguf type for tokenizer.ggml.precompiled_charsmap",
        id="snowflake-arctic-embed2",
    ),
    pytest.param(
        write_ollama_gemma3n, False, "tensor 'per_layer_token_embd.weight' has wrong shape", id="gemma3n"
    ),
    pytest.param(write_ollama_gemma4, False, "wrong number of tensors", id="gemma4"),
    pytest.param(partial(write_ollama_gemma4, moe=True), False, "wrong number of tensors", id="gemma4-moe"),
    pytest.param(write_ollama_olmo3, False, "unknown model architecture: 'olmo3'", id="olmo3"),
    pytest.param(
        partial(
            write_ollama_llama_like,
            arch="mistral3",
            keys={"mistral3.rope.scaling.beta_fast": 32.0, "mistral3.rope.scaling.beta_slow": 1.0},
        ),
        False,
        "wrong number of tensors",
        id="mistral3",
    ),
    pytest.param(
        partial(
            write_ollama_llama_like,
            arch="qwen25vl",
            keys={"qwen25vl.rope.mrope_section": [2, 3, 3]},
            qkv_bias=True,
        ),
        False,
        "unknown model architecture: 'qwen25vl'",
        id="qwen25vl",
    ),
    pytest.param(
        partial(write_ollama_llama_like, arch="qwen3vl", keys={}, qk_norm=True, n_embd=512),
        False,
        "key not found in model: qwen3vl.rope.dimension_sections",
        id="qwen3vl",
    ),
    pytest.param(write_ollama_gptoss, False, "unknown model architecture: 'gptoss'", id="gptoss"),
    pytest.param(write_ollama_llama4, False, "wrong number of tensors", id="llama4"),
    pytest.param(
        write_ollama_glm4moelite, False, "unknown model architecture: 'glm4moelite'", id="glm4moelite"
    ),
    pytest.param(write_ollama_laguna, False, "tensor 'blk.0.attn_gate.weight' not found", id="laguna"),
    pytest.param(
        write_ollama_deepseekocr, False, "unknown model architecture: 'deepseekocr'", id="deepseekocr"
    ),
    pytest.param(write_ollama_glmocr, False, "unknown model architecture: 'glmocr'", id="glmocr"),
    pytest.param(write_ollama_lfm2, False, "tensor 'token_embd_norm.weight' not found", id="lfm2"),
    pytest.param(
        write_ollama_nemotron_h,
        False,
        "tensor 'blk.1.ffn_down_exps.weight' has wrong shape",  # no moe_latent_size: the full width
        id="nemotron_h_moe-latent",
    ),
    pytest.param(
        partial(write_ollama_nemotron_h, omni=True),
        False,
        "unknown model architecture: 'nemotron_h_omni'",
        id="nemotron_h_omni",
    ),
    pytest.param(
        write_ollama_qwen35, False, "qwen35.rope.dimension_sections has wrong array length", id="qwen35"
    ),
    pytest.param(
        partial(write_ollama_qwen35, moe=True),
        False,
        "qwen35moe.rope.dimension_sections has wrong array length",
        id="qwen35moe",
    ),
    pytest.param(write_ollama_qwen3next, False, "tensor 'blk.0.ssm_dt.bias' not found", id="qwen3next"),
]


@pytest.mark.parametrize(("writer", "embed", "plain_error"), CASES)
def test_plain_fails_translated_runs(tmp_path: Path, writer: Writer, embed: bool, plain_error: str) -> None:
    src = writer(tmp_path / "ollama.gguf")
    plain = _probe(src, embed)
    assert plain.returncode != 0, plain.stdout
    assert plain_error in _load_error(plain)
    plan = plan_translation(src)
    assert plan is not None
    dest = tmp_path / "translated.gguf"
    write_translated(src, plan, dest)
    done = _probe(dest, embed)
    assert done.returncode == 0, _load_error(done)
    if embed:
        assert "DIMS 64" in done.stdout
    else:
        assert "TOKENS" in done.stdout and "TOKENS 0" not in done.stdout


_TOKENIZER_PROBE = """
import sys, llama_cpp
llm = llama_cpp.Llama(sys.argv[1], n_ctx=128, verbose=False, seed=1)
print("PIECES", len(llm.tokenize(b",the", add_bos=False)), "EOS", llm.token_eos())
out = llm("the", max_tokens=4, temperature=0)["choices"][0]
print("FINISH", out["finish_reason"])
"""


def test_llama3_tokenizer_fix_changes_tokenization_and_end_of_turn(tmp_path: Path) -> None:
    """The Llama 3 metadata gap loads in plain llama.cpp but tokenizes with the default
    pre-tokenizer and ends generation on <|end_of_text|>; translated, ",the" is one token (Llama
    3's pattern keeps punctuation with the word after it), EOS is <|eot_id|>, and it generates."""

    def probe(path: Path) -> str:
        result = subprocess.run(
            [sys.executable, "-c", _TOKENIZER_PROBE, str(path)], capture_output=True, text=True, timeout=120
        )
        assert result.returncode == 0, _load_error(result)
        return result.stdout

    src = write_ollama_llama3(tmp_path / "ollama.gguf")
    assert "PIECES 4 EOS 128001" in probe(src)
    plan = plan_translation(src)
    assert plan is not None
    dest = tmp_path / "translated.gguf"
    write_translated(src, plan, dest)
    done = probe(dest)
    assert "PIECES 1 EOS 128009" in done
    assert "FINISH" in done
