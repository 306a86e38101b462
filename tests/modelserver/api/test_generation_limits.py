"""Issue 10, item 8: every generation ends. ``num_predict: -2`` fills the context once and stops with
``done_reason: "length"`` (it used to shift the context forever); any other ``num_predict`` is
bounded by ``10 x num_ctx`` (Ollama's boundedNumPredict). Real server and runner, tiny GGUF, greedy
sampling (the tiny model's greedy continuation of "the" runs for hundreds of tokens without EOS)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from registry.store.library import Library
from runner.protocol import MAX_PREDICT_PER_CTX

#: Far more than any bounded generation of the tiny model needs; only a generation that never
#: ends reaches it (then the test fails instead of hanging).
NEVER = 120


async def _final(client: Any, path: str, body: dict[str, Any]) -> dict[str, Any]:
    async def run() -> dict[str, Any]:
        resp = await client.post(path, json=body)
        assert resp.status == 200, await resp.text()
        lines = [json.loads(line) for line in (await resp.text()).splitlines() if line.strip()]
        return dict(lines[-1])

    return await asyncio.wait_for(run(), NEVER)


@pytest.mark.parametrize("num_ctx", [32, 64])
async def test_num_predict_minus_two_stops_at_a_full_context(
    models: Library, make_client: Any, num_ctx: int
) -> None:
    client = await make_client(models)
    options = {"num_predict": -2, "num_ctx": num_ctx, "temperature": 0}
    final = await _final(client, "/api/generate", {"model": "tiny", "prompt": "the", "options": options})
    assert final["done"] is True and final["done_reason"] == "length"
    assert final["prompt_eval_count"] + final["eval_count"] <= num_ctx + 1
    chat = await _final(
        client,
        "/api/chat",
        {"model": "tiny", "messages": [{"role": "user", "content": "the"}], "options": options},
    )
    assert chat["done_reason"] == "length" and chat["prompt_eval_count"] + chat["eval_count"] <= num_ctx + 1


async def test_every_generation_is_bounded_by_ten_contexts(models: Library, make_client: Any) -> None:
    client = await make_client(models)
    num_ctx = 64  # the context shifts (greedy, no EOS); only the bound ends the generation
    for num_predict in (-1, -3, 10**15):
        options = {"num_predict": num_predict, "num_ctx": num_ctx, "temperature": 0}
        final = await _final(client, "/api/generate", {"model": "tiny", "prompt": "the", "options": options})
        assert final["done_reason"] == "length" and final["eval_count"] <= MAX_PREDICT_PER_CTX * num_ctx


async def test_a_huge_prompt_is_cut_before_it_is_tokenized(models: Library, make_client: Any) -> None:
    # llama.cpp's tokenizer is superlinear on long runs (a million "a" took minutes); only what
    # can fit the context is tokenized
    client = await make_client(models)
    prompt = "a" * 1_000_000
    for path, body in (
        (
            "/api/generate",
            {"model": "tiny", "prompt": prompt, "stream": False, "options": {"num_predict": 2}},
        ),
        ("/api/embeddings", {"model": "tiny", "prompt": prompt}),
        ("/api/embed", {"model": "tiny", "input": prompt}),
    ):
        resp = await asyncio.wait_for(client.post(path, json=body), NEVER)
        assert resp.status == 200, await resp.text()
    resp = await client.post("/api/embed", json={"model": "tiny", "input": prompt, "truncate": False})
    assert resp.status == 400 and "context length" in (await resp.json())["error"]
