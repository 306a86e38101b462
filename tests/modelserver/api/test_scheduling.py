"""Scheduling through the real server: concurrency, keep-alive expiry, LRU eviction, a full
queue, a runner killed mid-generation, and a client that goes away."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path
from typing import Any

from registry.modelserver.api import keys
from registry.modelserver.scheduler import BUSY_MESSAGE
from registry.store.library import Library
from tests.support.gguf_models import add_gguf_model
from tests.support.tiny_gguf import write_tiny_gguf

ENDLESS = {"num_predict": 10_000_000, "num_ctx": 64}


async def _wait_for(predicate: Any, timeout: float = 30.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        assert loop.time() < deadline, "condition not reached"
        await asyncio.sleep(0.02)


async def _ps(client: Any) -> list[str]:
    return [m["name"] for m in (await (await client.get("/api/ps")).json())["models"]]


async def test_concurrent_requests_share_one_runner(models: Library, make_client: Any) -> None:
    client = await make_client(models, num_parallel=2)

    async def one(i: int) -> dict[str, Any]:
        resp = await client.post(
            "/api/generate",
            json={"model": "tiny", "prompt": f"word {i}", "stream": False, "options": {"num_predict": 10}},
        )
        return dict(await resp.json())

    results = await asyncio.gather(*[one(i) for i in range(4)])
    assert all(r["done"] for r in results)
    assert len(client.server.app[keys.SCHEDULER].loaded()) == 1


async def test_keep_alive_expiry_unloads(models: Library, make_client: Any) -> None:
    client = await make_client(models)
    await client.post("/api/generate", json={"model": "tiny", "keep_alive": "1s", "stream": False})
    assert await _ps(client) == ["tiny:latest"]
    scheduler = client.server.app[keys.SCHEDULER]
    await _wait_for(lambda: not scheduler.loaded())
    assert await _ps(client) == []


async def test_negative_keep_alive_means_forever(models: Library, make_client: Any) -> None:
    client = await make_client(models)
    await client.post("/api/generate", json={"model": "tiny", "keep_alive": -1, "stream": False})
    entry = (await (await client.get("/api/ps")).json())["models"][0]
    assert entry["expires_at"] > "2100"


async def test_lru_eviction_at_max_loaded_models(models: Library, make_client: Any, tmp_path: Path) -> None:
    other = write_tiny_gguf(tmp_path / "other.gguf", seed=7)
    add_gguf_model(models, "other", other)
    client = await make_client(models, max_loaded_models=1)
    await client.post("/api/generate", json={"model": "tiny", "stream": False})
    await client.post("/api/generate", json={"model": "other", "stream": False})
    assert await _ps(client) == ["other:latest"]


async def test_reload_when_load_options_change(models: Library, make_client: Any) -> None:
    client = await make_client(models)
    await client.post("/api/generate", json={"model": "tiny", "stream": False, "options": {"num_ctx": 128}})
    scheduler = client.server.app[keys.SCHEDULER]
    first = scheduler.loaded()[0].runner.pid
    await client.post("/api/generate", json={"model": "tiny", "stream": False, "options": {"num_ctx": 256}})
    assert scheduler.loaded()[0].runner.pid != first
    assert (await (await client.get("/api/ps")).json())["models"][0]["context_length"] == 256


async def test_full_queue_answers_503(models: Library, make_client: Any) -> None:
    client = await make_client(models, max_queue=1, num_parallel=1)
    scheduler = client.server.app[keys.SCHEDULER]
    small = {"num_predict": 1, "num_ctx": 64}
    await client.post(
        "/api/generate", json={"model": "tiny", "prompt": "a", "stream": False, "options": small}
    )
    spec = scheduler.loaded()[0].spec
    async with scheduler.lease(spec):  # someone holds the only slot
        waiting = asyncio.ensure_future(
            client.post(
                "/api/generate", json={"model": "tiny", "prompt": "a", "stream": False, "options": small}
            )
        )
        await _wait_for(lambda: scheduler.pending == 1)
        resp = await client.post("/api/generate", json={"model": "tiny", "prompt": "b", "options": small})
        assert resp.status == 503 and (await resp.json()) == {"error": BUSY_MESSAGE}
        resp = await client.post("/v1/completions", json={"model": "tiny", "prompt": "b"})
        assert resp.status == 503 and (await resp.json())["error"]["message"] == BUSY_MESSAGE
    done = await asyncio.wait_for(waiting, 60)
    assert (await done.json())["done"] is True


async def test_runner_killed_between_requests_is_replaced(models: Library, make_client: Any) -> None:
    client = await make_client(models)
    scheduler = client.server.app[keys.SCHEDULER]
    small = {"num_predict": 3, "num_ctx": 64}
    await client.post(
        "/api/generate", json={"model": "tiny", "prompt": "a", "stream": False, "options": small}
    )
    old = scheduler.loaded()[0].runner
    os.kill(old.pid, signal.SIGKILL)
    again = await client.post(
        "/api/generate", json={"model": "tiny", "prompt": "the", "stream": False, "options": small}
    )
    assert again.status == 200 and (await again.json())["done"] is True
    assert scheduler.loaded()[0].runner.pid != old.pid


async def test_client_disconnect_stops_generation(models: Library, make_client: Any) -> None:
    client = await make_client(models, num_parallel=1)
    resp = await client.post(
        "/api/chat",
        json={"model": "tiny", "messages": [{"role": "user", "content": "x"}], "options": ENDLESS},
    )
    await resp.content.readline()
    resp.close()
    scheduler = client.server.app[keys.SCHEDULER]
    await _wait_for(lambda: scheduler.loaded()[0].refcount == 0)
    nxt = await client.post(
        "/api/generate",
        json={"model": "tiny", "prompt": "a", "stream": False, "options": {"num_predict": 2, "num_ctx": 64}},
    )
    assert (await nxt.json())["done"] is True
