"""``/api/show`` with ``verbose``: Ollama's full GGUF metadata (token arrays whole, not emptied)
and the tensor list, read from the real Gemma 3 270M weights; without it, long arrays are emptied
and there are no tensors."""

from __future__ import annotations

from typing import Any

from registry.store.library import Library


async def test_verbose_show_has_every_array_and_the_tensors(gemma: Library, make_client: Any) -> None:
    client = await make_client(gemma)
    plain = await (await client.post("/api/show", json={"model": "gemma"})).json()
    resp = await client.post("/api/show", json={"model": "gemma", "verbose": True})
    assert resp.status == 200
    verbose = await resp.json()
    info = verbose["model_info"]
    tokens = info["tokenizer.ggml.tokens"]
    assert len(tokens) == 262144 and tokens[:3] == ["<pad>", "<eos>", "<bos>"]
    assert len(info["tokenizer.ggml.scores"]) == len(info["tokenizer.ggml.token_type"]) == 262144
    assert plain["model_info"]["tokenizer.ggml.tokens"] == [] and "tensors" not in plain
    assert set(plain["model_info"]) == set(info)  # the same keys, only the arrays differ
    assert "general.name" not in info and "tokenizer.chat_template" not in info
    tensors = {t["name"]: t for t in verbose["tensors"]}
    assert tensors["token_embd.weight"] == {
        "name": "token_embd.weight",
        "type": "Q8_0",
        "shape": [640, 262144],
    }
    assert tensors["output_norm.weight"]["type"] == "F32"
    assert len(tensors) == len(verbose["tensors"]) > 100
    for key in ("details", "capabilities", "template", "parameters", "modelfile"):
        assert verbose[key] == plain[key]


async def test_verbose_must_be_a_boolean(gemma: Library, make_client: Any) -> None:
    client = await make_client(gemma)
    resp = await client.post("/api/show", json={"model": "gemma", "verbose": "yes"})
    assert resp.status == 400
    assert (await resp.json())["error"] == "invalid value for field 'verbose': expected boolean"
