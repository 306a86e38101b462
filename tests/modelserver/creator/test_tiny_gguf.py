"""The tiny GGUF the tests generate is a real model: llama.cpp loads it and generates from it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.tiny_gguf import CHAT_TEMPLATE, write_tiny_gguf


def test_llama_cpp_loads_and_generates(tiny_gguf: Path) -> None:
    from runner.engine_model import open_llama

    llm = open_llama(str(tiny_gguf), n_ctx=128, verbose=False)
    try:
        out = llm("the a", max_tokens=4, temperature=0.0)
        assert out["usage"]["completion_tokens"] >= 1
        assert llm.metadata["general.architecture"] == "llama"
        assert llm.metadata["tokenizer.chat_template"] == CHAT_TEMPLATE
        tokens = llm.tokenize(b"the word")
        assert llm.detokenize(tokens).strip() == b"the word"
    finally:
        llm.close()


@pytest.mark.parametrize("file_type", ["F16", "BF16", "Q8_0"])
def test_other_file_types_load(tmp_path: Path, file_type: str) -> None:
    from runner.engine_model import open_llama

    path = write_tiny_gguf(tmp_path / "m.gguf", file_type=file_type)
    llm = open_llama(str(path), n_ctx=64, verbose=False)
    try:
        assert llm("the", max_tokens=2)["usage"]["completion_tokens"] >= 1
    finally:
        llm.close()


def test_deterministic_bytes(tmp_path: Path, tiny_gguf: Path) -> None:
    again = write_tiny_gguf(tmp_path / "again.gguf")
    assert again.read_bytes() == tiny_gguf.read_bytes()
