"""The tiny Ollama-style GGUFs fail in plain llama-cpp-python and load and generate once
translated (llama.cpp runs in a child process: a refused file may abort it)."""

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
    write_ollama_llama_like,
    write_ollama_olmo3,
)

pytest.importorskip("llama_cpp")

_PROBE = """
import sys, llama_cpp
path, embed = sys.argv[1], sys.argv[2] == "1"
try:
    llm = llama_cpp.Llama(path, n_ctx=128, verbose=False, embedding=embed, seed=1)
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


@pytest.mark.parametrize(
    ("writer", "embed"),
    [
        (write_ollama_gemma3, False),
        (write_ollama_embeddinggemma, True),
        (write_ollama_olmo3, False),
        (
            partial(
                write_ollama_llama_like,
                arch="mistral3",
                keys={"mistral3.rope.scaling.beta_fast": 32.0, "mistral3.rope.scaling.beta_slow": 1.0},
            ),
            False,
        ),
        (
            partial(
                write_ollama_llama_like,
                arch="qwen25vl",
                keys={"qwen25vl.rope.mrope_section": [2, 3, 3]},
                qkv_bias=True,
            ),
            False,
        ),
        (partial(write_ollama_llama_like, arch="qwen3vl", keys={}, qk_norm=True, n_embd=512), False),
    ],
    ids=["gemma3", "embeddinggemma", "olmo3", "mistral3", "qwen25vl", "qwen3vl"],
)
def test_plain_fails_translated_runs(tmp_path: Path, writer: Callable[[Path], Path], embed: bool) -> None:
    src = writer(tmp_path / "ollama.gguf")
    plain = _probe(src, embed)
    assert plain.returncode != 0, plain.stdout
    plan = plan_translation(src)
    assert plan is not None
    dest = tmp_path / "translated.gguf"
    write_translated(src, plan, dest)
    done = _probe(dest, embed)
    assert done.returncode == 0, done.stderr[-2000:]
    if embed:
        assert "DIMS 64" in done.stdout
    else:
        assert "TOKENS" in done.stdout and "TOKENS 0" not in done.stdout
