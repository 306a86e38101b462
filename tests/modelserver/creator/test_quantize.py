"""Quantize on create with llama.cpp (in a child process), then load and generate from the result."""

from __future__ import annotations

from pathlib import Path

import pytest

from registry.modelserver.creator import CreateRequest, create_model
from registry.oci.name import ModelName
from registry.store.library import Library


@pytest.mark.parametrize("target", ["Q8_0", "q4_K_M"])
def test_quantize_then_generate(library: Library, tiny_gguf: Path, target: str) -> None:
    digest, _ = library.add_file(tiny_gguf)
    request = CreateRequest.from_json({"model": "q", "files": {"tiny.gguf": str(digest)}, "quantize": target})
    events = [p.to_json() for p in create_model(library, ModelName.parse("q"), request)]
    upper = target.upper()
    quantizing = [e for e in events if e["status"] == f"quantizing F32 model to {upper}"]
    assert quantizing and quantizing[-1]["completed"] == quantizing[-1]["total"] == 12
    assert all(e["digest"] == "0000000000000000000" for e in quantizing)
    statuses = [e["status"] for e in events if e not in quantizing]
    assert statuses[:2] == ["parsing GGUF", "verifying conversion"]
    assert statuses[2].startswith("creating new layer sha256:")
    assert statuses[-2:] == ["writing manifest", "success"]
    info = library.model_info(ModelName.parse("q"))
    assert info.details["quantization_level"] == upper
    assert info.model_path is not None and info.model_path.stat().st_size < tiny_gguf.stat().st_size
    assert list(library.layout.tmp_dir.iterdir()) == []

    from runner.engine_model import open_llama

    llm = open_llama(str(info.model_path), n_ctx=64, verbose=False)
    try:
        assert llm("the", max_tokens=3)["usage"]["completion_tokens"] >= 1
    finally:
        llm.close()
