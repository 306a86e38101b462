"""The app builds its scheduler with the runner factory it is given: the API over fake runners
(no llama.cpp), and the request's values parsed once at the edge into the scheduler's ModelSpec."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from registry.config import Settings
from registry.modelserver.api import keys
from registry.modelserver.api.app import build_app
from registry.modelserver.scheduler import KeepAlive, LoadSettings
from registry.oci.digest import Digest
from registry.oci.name import ModelName
from registry.store.library import Library
from tests.modelserver.scheduler.fake_runner import FakeRunners


@pytest.fixture
async def fake_client(
    models: Library, tmp_path: Path
) -> AsyncIterator[tuple[TestClient[Any, Any], FakeRunners]]:
    runners = FakeRunners()
    settings = Settings(models_dir=tmp_path / "store", context_length=512)
    client: TestClient[Any, Any] = TestClient(TestServer(build_app(settings, models, runners=runners)))
    await client.start_server()
    yield client, runners
    await client.close()


async def test_generate_runs_on_the_given_factorys_runner(fake_client: Any) -> None:
    client, runners = fake_client
    resp = await client.post("/api/generate", json={"model": "tiny-go", "prompt": "hi", "stream": False})
    body = await resp.json()
    assert resp.status == 200 and body["response"] == "fake" and body["done"] is True
    assert len(runners.started) == 1 and runners.started[0].completions == 1
    assert [m["name"] for m in (await (await client.get("/api/ps")).json())["models"]] == ["tiny-go:latest"]


async def test_embed_and_unload_on_fake_runners(fake_client: Any) -> None:
    client, runners = fake_client
    resp = await client.post("/api/embed", json={"model": "tiny-go", "input": "x"})
    assert (await resp.json())["embeddings"] == [[0.6, 0.8]]
    resp = await client.post("/api/generate", json={"model": "tiny-go", "keep_alive": 0, "stream": False})
    assert (await resp.json())["done_reason"] == "unload"
    assert client.server.app[keys.SCHEDULER].loaded() == [] and runners.started[0].stopped


async def test_the_spec_carries_parsed_values(fake_client: Any, models: Library) -> None:
    client, runners = fake_client
    resp = await client.post(
        "/api/generate",
        json={"model": "tiny-go", "keep_alive": "5m", "stream": False, "options": {"num_ctx": 128}},
    )
    assert resp.status == 200
    spec = runners.started[0].spec
    row = models.find_model(ModelName.parse("tiny-go"))
    assert row is not None
    assert spec.name == row.name and isinstance(spec.digest, Digest) and spec.digest == row.manifest.digest
    assert isinstance(spec.weights, Path) and spec.weights.is_file() and spec.adapters == ()
    assert spec.keep_alive == KeepAlive(300.0)
    # OLLAMA_NUM_PARALLEL unset: auto, and a tiny model's 4 slots fit anywhere
    assert spec.settings == dataclasses.replace(LoadSettings(), num_ctx=128, num_batch=128, parallel=4)
