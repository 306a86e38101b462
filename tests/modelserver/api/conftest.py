"""A real model server (aiohttp on loopback, port 0) over a library with runnable models."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from registry.config import Settings
from registry.modelserver.api.app import build_app
from registry.store.library import Library
from tests.support.gguf_models import GEMMA3_TEMPLATE, add_gguf_model, gemma_path

ServerFactory = Callable[..., "Any"]


@pytest.fixture
def models(library: Library, tiny_gguf: Path) -> Library:
    """``tiny`` (generated llama GGUF, Jinja template inside) and ``tiny-go`` (Go TEMPLATE)."""
    add_gguf_model(library, "tiny", tiny_gguf)
    add_gguf_model(
        library, "tiny-go", tiny_gguf, template="{{ if .System }}{{ .System }} {{ end }}{{ .Prompt }}"
    )
    return library


@pytest.fixture
def gemma(library: Library) -> Library:
    """``gemma`` (Gemma 3 270M with Ollama's gemma3 template)."""
    add_gguf_model(
        library, "gemma", gemma_path(), template=GEMMA3_TEMPLATE, params={"stop": ["<end_of_turn>"]}
    )
    return library


@pytest.fixture
async def make_client(tmp_path: Path) -> AsyncIterator[Callable[..., Any]]:
    """``await make_client(library, **settings)`` -> an aiohttp TestClient on a real server."""
    clients: list[TestClient[Any, Any]] = []

    async def factory(library: Library, **overrides: Any) -> TestClient[Any, Any]:
        settings = dataclasses.replace(
            Settings(models_dir=tmp_path / "store", context_length=512), **overrides
        )
        client: TestClient[Any, Any] = TestClient(TestServer(build_app(settings, library)))
        await client.start_server()
        clients.append(client)
        return client

    yield factory
    for client in clients:
        await client.close()
