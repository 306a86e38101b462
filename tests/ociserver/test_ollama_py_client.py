"""ollama-py's own ``push``/``pull`` (registry/remote) against the registry server, as subprocesses."""

from __future__ import annotations

import os
from pathlib import Path

import aiohttp
import pytest

from registry.store.library import Library
from tests.support.cli_process import run_cli
from tests.support.models import make_model
from tests.support.registry_server import RunningRegistry

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


async def test_ollama_py_push_then_pull(tmp_path: Path, registry: RunningRegistry) -> None:
    source = tmp_path / "source"
    library = Library.open(source)
    weights = b"GGUF" + os.urandom(2_000_000)
    make_model(library, "sample", weights=weights, template="{{ .Prompt }}", system="be brief")
    library.close()
    name = f"{registry.host}/team/sample:v1"
    code, out = await run_cli(source, "cp", "sample", name)
    assert code == 0, out
    code, out = await run_cli(source, "push", "--insecure", name)
    assert code == 0, out
    async with aiohttp.ClientSession() as http, http.get(f"{registry.url}/v2/team/sample/tags/list") as r:
        assert (await r.json())["tags"] == ["v1"]
    target = tmp_path / "target"
    code, out = await run_cli(target, "pull", "--insecure", name)
    assert code == 0, out
    code, out = await run_cli(target, "show", "--system", name)
    assert code == 0 and "be brief" in out, out
