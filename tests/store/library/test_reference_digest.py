"""Issue 10 item 12: ``model@sha256:<digest>`` names the model only when the digest is its manifest's.

A wrong digest is "model not found": in the library, in the CLI, and as a 404 from the model
server's /api/show, /api/copy and /api/delete.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import ClientSession
from aiohttp.test_utils import TestServer

from registry.config import Settings
from registry.errors import ModelNotFound
from registry.modelserver.api.app import build_app
from registry.oci.digest import sha256_of
from registry.oci.name import ModelName
from registry.store.library import Library
from tests.support.checkout_env import checkout_pythonpath
from tests.support.models import make_model

WRONG = sha256_of(b"not the manifest")


@pytest.fixture
def named(library: Library) -> str:
    """``a`` and the digest of its manifest."""
    return str(make_model(library, "a", weights=b"weights", system="sys").digest)


def test_library_matches_the_pinned_digest(library: Library, named: str) -> None:
    right, wrong = ModelName.parse(f"a@{named}"), ModelName.parse(f"a@{WRONG}")
    assert library.get_model(right).manifest.digest == right.digest
    assert library.model_info(right).system == "sys"
    assert library.find_model(wrong) is None
    with pytest.raises(ModelNotFound, match="not found"):
        library.get_model(wrong)
    with pytest.raises(ModelNotFound):
        library.model_info(wrong)
    with pytest.raises(ModelNotFound):
        library.copy(wrong, ModelName.parse("b"))
    with pytest.raises(ModelNotFound):
        library.remove(wrong)
    assert [r.name.display_shortest for r in library.list_models()] == ["a:latest"]
    library.copy(right, ModelName.parse("b"))
    library.remove(ModelName.parse(f"b@{named}"))


def test_cli_refuses_a_wrong_digest(library: Library, named: str) -> None:
    env = {**os.environ, "OLLAMA_MODELS": str(library.layout.root), "PYTHONPATH": checkout_pythonpath()}
    env.pop("OLLAMA_PY_DATABASE_URL", None)

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "registry.cli.main", *args]
        return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)

    for args in (("show", f"a@{WRONG}"), ("rm", f"a@{WRONG}"), ("cp", f"a@{WRONG}", "b")):
        out = cli(*args)
        assert out.returncode == 1 and "not found" in out.stderr, (args, out)
    shown = cli("show", f"a@{named}", "--system")
    assert shown.returncode == 0 and shown.stdout == "sys\n"
    assert [r.name.display_shortest for r in library.list_models()] == ["a:latest"]


@pytest.fixture
async def server(library: Library, tmp_path: Path) -> AsyncIterator[TestServer]:
    app = build_app(Settings(models_dir=library.layout.root), library)
    async with TestServer(app, host="127.0.0.1") as srv:
        yield srv


async def test_model_server_answers_404_for_a_wrong_digest(
    server: TestServer, library: Library, named: str
) -> None:
    async with ClientSession() as http:
        async with http.post(server.make_url("/api/show"), json={"model": f"a@{WRONG}"}) as r:
            assert r.status == 404
            assert "not found" in (await r.json())["error"]
        async with http.post(server.make_url("/api/show"), json={"model": f"a@{named}"}) as r:
            assert r.status == 200 and (await r.json())["system"] == "sys"
        body = {"source": f"a@{WRONG}", "destination": "b"}
        async with http.post(server.make_url("/api/copy"), json=body) as r:
            assert r.status == 404
        async with http.delete(server.make_url("/api/delete"), json={"model": f"a@{WRONG}"}) as r:
            assert r.status == 404
    assert [r.name.display_shortest for r in library.list_models()] == ["a:latest"]
