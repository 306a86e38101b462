"""``ollama-py create`` end to end: a real subprocess, with no server (in process) and with a real
server on loopback (hash, /api/blobs, /api/create)."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer

from registry.config import Settings
from registry.modelfile.parser import parse_modelfile
from registry.modelserver.api.app import build_app
from registry.oci.name import ModelName
from registry.store.library import Library
from tests.support.checkout_env import checkout_pythonpath

ROOT = Path(__file__).resolve().parents[3]
pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def env_for(store: Path, host: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(OLLAMA_MODELS=str(store), OLLAMA_HOST=host, PYTHONPATH=checkout_pythonpath())
    env.pop("OLLAMA_PY_DATABASE_URL", None)
    return env


def cli(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "registry.cli.main", *args]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture
def workdir(tmp_path: Path, tiny_gguf: Path) -> Path:
    work = tmp_path / "work"
    work.mkdir()
    shutil.copy(tiny_gguf, work / "tiny.gguf")
    (work / "Modelfile").write_text(
        "# a tiny model\nFROM ./tiny.gguf\nSYSTEM You are tiny.\nPARAMETER temperature 0.3\n"
        'PARAMETER stop "<|end|>"\nMESSAGE user hi\nMESSAGE assistant hello\n'
    )
    return work


def test_cli_create_in_process_then_show_round_trip(workdir: Path, tmp_path: Path) -> None:
    store = tmp_path / "store"
    env = env_for(store, f"127.0.0.1:{free_port()}")
    done = cli(["create", "tiny", "-q", "q8_0"], workdir, env)
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines()[-2:] == ["writing manifest", "success"]
    assert "quantizing F32 model to Q8_0 100%" in done.stderr
    shown = cli(["show", "tiny", "--modelfile"], workdir, env)
    assert shown.returncode == 0, shown.stderr
    (workdir / "Modelfile.shown").write_text(shown.stdout)
    again = cli(["create", "tiny-again", "-f", "Modelfile.shown"], workdir, env)
    assert again.returncode == 0, again.stderr
    library = Library.open(store)
    try:
        first = library.get_model(ModelName.parse("tiny"))
        second = library.get_model(ModelName.parse("tiny-again"))
        assert first.manifest.digest == second.manifest.digest
        info = library.model_info(ModelName.parse("tiny"))
        assert info.parameters == {"temperature": 0.3, "stop": ["<|end|>"]}
        assert [m["content"] for m in info.messages] == ["hi", "hello"]
        assert library.prune(dry_run=True, grace_seconds=0).blobs_removed == []
        assert parse_modelfile(shown.stdout).system == "You are tiny."
    finally:
        library.close()


@pytest.mark.parametrize(
    ("modelfile", "message"),
    [
        ("FROM ./missing.gguf\n", "Error: (line 1): FROM file not found: "),
        ("FROM ./tiny.gguf\nPARAMETER temperature warm\n", "Error: (line 2): invalid float value 'warm'"),
        ("FROM ./tiny.gguf\nSTOP here\n", "Error: (line 2): command must be one of"),
        ("SYSTEM no from\n", "Error: no FROM line"),
        ("FROM ./junk.gguf\n", "Error: junk.gguf: not a GGUF file"),
        ("FROM ~nouser-i10/x\n", "Error: (line 1): FROM ~nouser-i10/x: there is no user 'nouser-i10'"),
        (
            "FROM ./tiny.gguf\nADAPTER ~nouser-i10/a.gguf\n",
            "Error: (line 2): ADAPTER ~nouser-i10/a.gguf: there is no user",
        ),
    ],
)
def test_cli_bad_modelfiles(workdir: Path, tmp_path: Path, modelfile: str, message: str) -> None:
    (workdir / "junk.gguf").write_bytes(b"junk" * 100)
    (workdir / "Bad").write_text(modelfile)
    store = tmp_path / "store"
    env = env_for(store, f"127.0.0.1:{free_port()}")
    done = cli(["create", "bad", "-f", "Bad"], workdir, env)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1].startswith(message)
    listed = cli(["list"], workdir, env)
    assert "bad" not in listed.stdout
    blobs = store / "blobs"
    assert not blobs.exists() or [p for p in blobs.rglob("*") if p.is_file()] == []


def test_cli_create_from_a_file_then_editing_it_leaves_the_blob_intact(workdir: Path, tmp_path: Path) -> None:
    """Issue 10 item 15: the committed blob is not the user's inode; editing the file changes nothing."""
    import hashlib

    store = tmp_path / "store"
    env = env_for(store, f"127.0.0.1:{free_port()}")
    source = workdir / "tiny.gguf"
    original = source.read_bytes()
    done = cli(["create", "tiny"], workdir, env)
    assert done.returncode == 0, done.stderr
    blob = (
        store
        / "blobs"
        / "sha256"
        / hashlib.sha256(original).hexdigest()[:2]
        / hashlib.sha256(original).hexdigest()
    )
    assert blob.stat().st_ino != source.stat().st_ino
    with open(source, "r+b") as f:
        f.write(b"XXXX")  # overwrite in place
    with open(source, "ab") as f:
        f.write(b"appended")
    assert blob.read_bytes() == original
    verified = cli(["verify"], workdir, env)
    assert verified.returncode == 0 and verified.stdout.strip().endswith("ok"), verified.stdout


def test_cli_missing_modelfile(tmp_path: Path) -> None:
    done = cli(["create", "x"], tmp_path, env_for(tmp_path / "store", f"127.0.0.1:{free_port()}"))
    assert done.returncode == 1
    assert "Error: Modelfile not found: Modelfile" in done.stderr


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[tuple[TestServer, Library]]:
    library = Library.open(tmp_path / "server-store")
    app = build_app(Settings(models_dir=tmp_path / "server-store"), library)
    async with TestServer(app, host="127.0.0.1") as srv:
        yield srv, library
    library.close()


async def test_cli_create_through_server(
    workdir: Path, tmp_path: Path, server: tuple[TestServer, Library]
) -> None:
    srv, library = server
    env = env_for(tmp_path / "client-store", f"127.0.0.1:{srv.port}")
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "registry.cli.main", "create", "remote-tiny",
        cwd=workdir, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, err = await asyncio.wait_for(child.communicate(), 120)
    lines = err.decode().splitlines()
    assert child.returncode == 0, lines
    assert lines[0].startswith("copying file sha256:")
    assert lines[1:3] == [
        "parsing GGUF",
        lines[0].replace("copying file", "using existing layer").removesuffix(" 100%"),
    ]
    assert lines[-2:] == ["writing manifest", "success"]
    info = library.model_info(ModelName.parse("remote-tiny"))
    assert info.system == "You are tiny."
    assert not (tmp_path / "client-store" / "blobs").exists() or not any(
        (tmp_path / "client-store" / "blobs").rglob("sha256*")
    )
