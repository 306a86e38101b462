"""Ollama-converted blobs of the newer architectures through the real model server: generate with
the official ``ollama`` client runs them (translated once, on first load); a blob of an architecture
llama.cpp lacks is a 400 naming the model, the reason and an alternative, and ``show`` says so."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

import ollama
import pytest

from registry.store.library import Library
from tests.support.gguf_models import add_gguf_model
from tests.support.ollama_gguf import write_synthetic
from tests.support.ollama_gguf_hybrid import write_ollama_qwen3next
from tests.support.ollama_gguf_moe import write_ollama_gemma4, write_ollama_gptoss

pytest.importorskip("llama_cpp")


def _url(client: Any) -> str:
    return f"http://127.0.0.1:{client.server.port}"


@pytest.mark.parametrize(
    "writer",
    [write_ollama_gptoss, write_ollama_qwen3next, partial(write_ollama_gemma4, moe=True)],
    ids=["gptoss", "qwen3next", "gemma4-moe"],
)
async def test_translated_architectures_generate_through_the_server(
    library: Library, make_client: Any, tmp_path: Path, writer: Any
) -> None:
    add_gguf_model(library, "converted", writer(tmp_path / "ollama.gguf"), template="{{ .Prompt }}")
    server = await make_client(library)
    client = ollama.AsyncClient(host=_url(server))
    reply = await client.generate(model="converted", prompt="the", options={"num_predict": 4, "seed": 1})
    assert reply.done and reply.eval_count and reply.eval_count > 0
    shown = await (await server.post("/api/show", json={"model": "converted"})).json()
    assert shown["compatibility"] and not shown["compatibility"][0].startswith("cannot run")
    assert len(list(library.layout.compat_dir.glob("sha256-*.gguf"))) == 1


async def test_an_architecture_llama_cpp_lacks_is_a_400_naming_it(
    library: Library, make_client: Any, tmp_path: Path
) -> None:
    blob = write_synthetic(
        tmp_path / "mllama.gguf", "mllama", {"mllama.block_count": 1}, {"token_embd.weight": (8, 4)}
    )
    add_gguf_model(library, "vision", blob, template="{{ .Prompt }}")
    server = await make_client(library)
    resp = await server.post("/api/generate", json={"model": "vision", "prompt": "x", "stream": False})
    assert resp.status == 400
    error = (await resp.json())["error"]
    assert error.startswith("model 'vision' cannot be run: its architecture mllama")
    assert "gemma3" in error
    shown = await (await server.post("/api/show", json={"model": "vision"})).json()
    assert shown["compatibility"] and shown["compatibility"][0].startswith(
        "cannot run: its architecture mllama"
    )
