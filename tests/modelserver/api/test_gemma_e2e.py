"""End to end on the real Gemma 3 270M Q4_K_M (slow): streaming, stop sequences, num_predict, seed
determinism, JSON format, concurrency through continuous batching, and a disconnect that frees
the only slot of a model that would otherwise keep generating for minutes."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from typing import Any

import pytest

from registry.modelserver.api import keys
from registry.store.library import Library

pytestmark = pytest.mark.slow

CHAT = [{"role": "user", "content": "Count from one to twenty in words, separated by commas."}]


async def _chat(client: Any, **extra: Any) -> dict[str, Any]:
    resp = await client.post("/api/chat", json={"model": "gemma", "messages": CHAT, "stream": False, **extra})
    assert resp.status == 200, await resp.text()
    return dict(await resp.json())


async def test_gemma_generation_controls(gemma: Library, make_client: Any) -> None:
    client = await make_client(gemma, num_parallel=2)
    opts = {"num_predict": 24, "seed": 11, "temperature": 0.9}
    first, second = await _chat(client, options=opts), await _chat(client, options=opts)
    assert first["message"]["content"] == second["message"]["content"]
    assert first["eval_count"] <= 24
    full = (await _chat(client, options={"num_predict": 40, "temperature": 0}))["message"]["content"]
    words = full.split()
    assert len(words) > 3
    stop = words[2]
    cut = await _chat(client, options={"num_predict": 40, "temperature": 0, "stop": [stop]})
    assert stop not in cut["message"]["content"] and cut["done_reason"] == "stop"
    resp = await client.post(
        "/api/generate",
        json={
            "model": "gemma",
            "prompt": "Describe a cat as JSON.",
            "format": "json",
            "stream": False,
            "options": {"num_predict": 200, "temperature": 0},
        },
    )
    body = await resp.json()
    if body["done_reason"] == "stop":
        assert isinstance(json.loads(body["response"]), dict)
    results = await asyncio.gather(*[_chat(client, options={"num_predict": 16, "seed": i}) for i in range(4)])
    assert all(r["done"] for r in results)


async def test_gemma_runner_killed_mid_generation(gemma: Library, make_client: Any) -> None:
    client = await make_client(gemma)
    scheduler = client.server.app[keys.SCHEDULER]
    resp = await client.post(
        "/api/generate",
        json={
            "model": "gemma",
            "prompt": "Write a very long story.",
            "options": {"num_predict": 100000, "temperature": 1.0},
        },
    )
    await resp.content.readline()
    os.kill(scheduler.loaded()[0].runner.pid, signal.SIGKILL)
    lines = [json.loads(line) for line in (await resp.text()).splitlines() if line.strip()]
    assert "model runner has unexpectedly stopped" in lines[-1]["error"]
    again = await _chat(client, options={"num_predict": 3})
    assert again["done"] is True


async def test_gemma_disconnect_frees_slot(gemma: Library, make_client: Any) -> None:
    client = await make_client(gemma, num_parallel=1)
    resp = await client.post(
        "/api/generate",
        json={
            "model": "gemma",
            "prompt": "Write a very long story.",
            "options": {"num_predict": 100000, "temperature": 1.0},
        },
    )
    for _ in range(3):
        await resp.content.readline()
    resp.close()
    scheduler = client.server.app[keys.SCHEDULER]
    while scheduler.loaded()[0].refcount:
        await asyncio.sleep(0.02)
    nxt = await asyncio.wait_for(_chat(client, options={"num_predict": 4}), 120)
    assert nxt["done"] is True
