"""The ``ollama-py`` transfer commands: pull/push in a subprocess, export/import in-process."""

from __future__ import annotations

from pathlib import Path

import pytest

from registry.cli.main import main
from registry.cli.transfer_commands import parse_rate
from registry.store.library import Library
from tests.remote.helpers import name_on, serve_model
from tests.support.cli_process import run_cli
from tests.support.models import make_model
from tests.support.upstream import Upstream

ROOT = Path(__file__).resolve().parents[2]


async def test_cli_pull_and_push(tmp_path: Path, upstream: Upstream) -> None:
    serve_model(upstream)
    store = tmp_path / "store"
    code, out = await run_cli(store, "pull", "--insecure", "--max-rate", "100M", str(name_on(upstream)))
    assert code == 0, out
    assert "pulling manifest" in out and "success" in out
    code, out = await run_cli(store, "cp", str(name_on(upstream)), str(name_on(upstream, "me/copy")))
    assert code == 0, out
    code, out = await run_cli(store, "push", "--insecure", str(name_on(upstream, "me/copy")))
    assert code == 0, out
    assert ("me/copy", "latest") in upstream.manifests


async def test_cli_pull_profile_says_where_the_time_went(tmp_path: Path, upstream: Upstream) -> None:
    serve_model(upstream)
    code, out = await run_cli(tmp_path / "store", "pull", "--insecure", "--profile", str(name_on(upstream)))
    assert code == 0, out
    lines = [line for line in out.splitlines() if line.startswith("pull ") and "part(s)" in line]
    assert lines, out  # one per blob fetched
    for phase in ("receive", "write", "hash", "hash wait", "fsync", "final hash", "commit", "MiB/s"):
        assert phase in lines[0], lines[0]


async def test_cli_errors(tmp_path: Path, upstream: Upstream) -> None:
    code, out = await run_cli(tmp_path / "s", "pull", "--insecure", str(name_on(upstream, "library/none")))
    assert code == 1 and "Error: pull model manifest: file does not exist" in out
    code, out = await run_cli(tmp_path / "s", "pull", "bad name!")
    assert code == 1 and out.startswith("Error:")
    code, out = await run_cli(tmp_path / "s", "pull", "--max-rate", "fast", "x")
    assert code == 2 and "invalid rate" in out


def test_parse_rate() -> None:
    assert parse_rate("10M") == 10_000_000
    assert parse_rate("1.5MiB/s") == 1.5 * 1024 * 1024
    assert parse_rate("500kb") == 500_000


def test_cli_export_import(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "a"
    lib = Library.open(source)
    make_model(lib, "tiny", weights=b"GGUF" * 100)
    lib.close()
    archive = tmp_path / "models.tar.zst"
    monkeypatch.setenv("OLLAMA_MODELS", str(source))
    assert main(["export", "tiny", "-o", str(archive)]) == 0
    monkeypatch.setenv("OLLAMA_MODELS", str(tmp_path / "b"))
    assert main(["import", str(archive)]) == 0
    assert "imported tiny:latest" in capsys.readouterr().out
    assert main(["import", str(archive)]) == 0
    assert "unchanged tiny:latest" in capsys.readouterr().out
    assert main(["import", str(tmp_path / "missing.tar.zst")]) == 1
    assert main(["export", "nope", "-o", str(tmp_path / "n.tar.zst")]) == 1
