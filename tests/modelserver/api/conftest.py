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

#: A Go template that offers tools (so the model has the ``tools`` capability), in the tiny model's
#: chat format.
TOOLS_TEMPLATE = (
    "{{- if .Tools }}<|system|>{{ range .Tools }}{{ . }}{{ end }}</s>{{ end }}"
    "{{- range .Messages }}<|{{ .Role }}|>{{ .Content }}"
    "{{- range .ToolCalls }}{{ .Function.Name }}{{ .Function.Arguments }}{{ end }}</s>"
    "{{- end }}<|assistant|>"
)
#: A fill-in-the-middle Go template (so the model has the ``insert`` capability), codellama's shape.
INSERT_TEMPLATE = (
    "{{ if .Suffix }}<PRE> {{ .Prompt }} <SUF>{{ .Suffix }} <MID>{{ else }}{{ .Prompt }}{{ end }}"
)


@pytest.fixture
def models(library: Library, tiny_gguf: Path) -> Library:
    """``tiny`` (generated llama GGUF, Jinja template inside), ``tiny-go`` (Go TEMPLATE),
    ``tiny-tools`` (Go TEMPLATE offering tools) and ``tiny-code`` (fill-in-the-middle template)."""
    add_gguf_model(library, "tiny", tiny_gguf)
    add_gguf_model(
        library, "tiny-go", tiny_gguf, template="{{ if .System }}{{ .System }} {{ end }}{{ .Prompt }}"
    )
    add_gguf_model(library, "tiny-tools", tiny_gguf, template=TOOLS_TEMPLATE)
    add_gguf_model(library, "tiny-code", tiny_gguf, template=INSERT_TEMPLATE)
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
