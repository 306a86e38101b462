"""Issue 10 item 15 through the CLI: ``ollama-py create`` from a user's GGUF file, with
``ollama-py serve`` running (hash, ``/api/blobs`` upload, ``/api/create``) and without (in process).
Editing, truncating or appending to the user's file afterwards changes nothing in the store:
``ollama-py verify`` is clean and the committed blob still has its digest.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from tests.support.serve_process import ServeProcess, cli, cli_env, free_port


def _edit(path: Path, how: str) -> None:
    if how == "overwrite":  # same size, in place (what an editor or a tool writing into the file does)
        with path.open("r+b") as f:
            f.seek(0)
            f.write(b"XXXX" * 64)
    elif how == "truncate":
        with path.open("r+b") as f:
            f.truncate(100)
    else:
        with path.open("ab") as f:
            f.write(b"appended")


@pytest.mark.parametrize("server", [False, True], ids=["in-process", "through-serve"])
@pytest.mark.parametrize("how", ["overwrite", "truncate", "append"])
def test_editing_the_source_file_after_create_leaves_the_store_clean(
    tmp_path: Path, tiny_gguf: Path, server: bool, how: str
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    source = work / "model.gguf"
    shutil.copy(tiny_gguf, source)
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    (work / "Modelfile").write_text("FROM ./model.gguf\nSYSTEM You are tiny.\n")
    store = tmp_path / "store"
    env = cli_env(store, tmp_path, OLLAMA_HOST=f"127.0.0.1:{free_port()}")
    serve = ServeProcess(env) if server else None
    try:
        if serve is not None:
            assert serve.listening, serve.text()
        created = cli(env, "create", "tiny", "-f", str(work / "Modelfile"))
        assert created.returncode == 0, created.stderr
        blob = store / "blobs" / "sha256" / digest[:2] / digest
        assert blob.is_file()
        assert blob.stat().st_ino != source.stat().st_ino
        _edit(source, how)
        verified = cli(env, "verify")
        assert verified.returncode == 0 and verified.stdout.strip().endswith("ok"), verified
        assert hashlib.sha256(blob.read_bytes()).hexdigest() == digest
        shown = cli(env, "show", "tiny", "--system")
        assert shown.returncode == 0 and shown.stdout == "You are tiny.\n"
    finally:
        if serve is not None:
            serve.stop()
