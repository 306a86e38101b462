"""One version string: pyproject's, read from the package metadata, used by every program."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from registry.cli.main import main
from registry.remote.options import TransferOptions
from registry.store.library import Library
from registry.version import VERSION


def test_version_is_pyprojects() -> None:
    pyproject = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    assert pyproject["project"]["version"] == VERSION


def test_client_user_agent_names_the_version() -> None:
    assert TransferOptions().user_agent == f"ollama-py/{VERSION}"


def test_cli_prints_the_version(capsys: Any) -> None:
    main(["--version"])
    assert capsys.readouterr().out == f"ollama-py version is {VERSION}\n"


async def test_model_server_answers_the_version(library: Library, tmp_path: Path) -> None:
    from aiohttp.test_utils import TestClient, TestServer

    from registry.config import Settings
    from registry.modelserver.api.app import build_app

    app = build_app(Settings(models_dir=tmp_path / "store"), library)
    async with TestClient(TestServer(app)) as client:
        resp = await client.get("/api/version")
        assert await resp.json() == {"version": VERSION}
