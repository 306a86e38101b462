"""Issue 15, one store for every command: with a server answering at ``OLLAMA_HOST`` every model
command (list, show, cp, rm, create, pull, push, ps, stop, run) goes through its API; with none they
act in process on ``OLLAMA_MODELS``. Each command runs in both modes (a real ``ollama-py serve`` on
a free port over its own store, and no server) and must print the same. The issue's repro
(``OLLAMA_MODELS=X ollama-py create m`` then ``ollama-py cp m n`` with a server on another store)
works, and ``list`` says which store it shows.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from registry.store.library import Library
from tests.support.gguf_models import add_gguf_model
from tests.support.registry_process import RegistryProcess
from tests.support.serve_process import ServeProcess, cli, cli_env, free_port


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory, tiny_gguf: Path) -> Iterator[str]:
    """A registry subprocess holding ``team/tiny:v1``; yields its ``host:port``."""
    root = tmp_path_factory.mktemp("one-store-registry")
    process = RegistryProcess("--root", str(root / "registry"))
    try:
        host = process.url.removeprefix("http://")
        library = Library.open(root / "source")
        add_gguf_model(library, "tiny", tiny_gguf, params={"num_predict": 4})
        library.close()
        env = cli_env(root / "source", root, OLLAMA_HOST=f"127.0.0.1:{free_port()}")
        assert cli(env, "cp", "tiny", f"{host}/team/tiny:v1").returncode == 0
        pushed = cli(env, "push", "--insecure", f"{host}/team/tiny:v1")
        assert pushed.returncode == 0, pushed.stderr
        yield host
    finally:
        process.stop()


def _session(root: Path, tiny_gguf: Path, registry: str, server: bool) -> dict[str, str]:
    """Every command once, in order; the normalised output of each (the store's path and the
    MODIFIED column vary by run, so they are replaced)."""
    root.mkdir()
    store = root / "store"
    env = cli_env(store, root, OLLAMA_HOST=f"127.0.0.1:{free_port()}")
    serve = ServeProcess(env) if server else None
    client_env = env
    if serve is not None:
        assert serve.listening, serve.text()
        client_env = {**env, "OLLAMA_MODELS": str(root / "unused-local-store")}
    modelfile = root / "Modelfile"
    modelfile.write_text(f"FROM {tiny_gguf}\nSYSTEM You are tiny.\nPARAMETER num_predict 4\n")
    steps: list[tuple[str, ...]] = [
        ("create", "m", "-f", str(modelfile)),
        ("create", "g", "--from", str(tiny_gguf)),
        ("cp", "m", "n"),
        ("list",),
        ("show", "n"),
        ("show", "n", "--system"),
        ("show", "n", "--parameters"),
        ("show", "n", "--modelfile"),
        ("show", "missing"),
        ("cp", "missing", "x"),
        ("rm", "n"),
        ("rm", "n"),
        ("pull", "--insecure", f"{registry}/team/tiny:v1"),
        ("cp", f"{registry}/team/tiny:v1", f"{registry}/team/copy:v2"),
        ("push", "--insecure", f"{registry}/team/copy:v2"),
        ("ps",),
        ("stop", "m"),
        ("stop", "missing"),
        ("run", "m", "hello"),
        ("list", "te"),
    ]
    outputs: dict[str, str] = {}
    try:
        for step in steps:
            done = cli(client_env, *step)
            text = done.stdout if step[0] not in ("show", "cp", "rm", "stop") else done.stdout + done.stderr
            if step[0] == "run":
                text = "answered\n" if done.returncode == 0 and done.stdout.strip() else done.stderr
            if step[0] in ("pull", "push"):
                text = ""  # progress bars differ in timing; the outcome is the exit status
            text = text.replace(str(store), "STORE")
            if step[0] == "list":  # MODIFIED depends on timing
                text = "".join(
                    "    ".join(re.split(r"\s{4,}", line)[:3]) + "\n" for line in text.splitlines()
                )
            outputs[" ".join(step).replace(str(root), "ROOT")] = f"rc={done.returncode}\n{text}"
        if serve is not None:  # the client's own OLLAMA_MODELS was never touched
            assert not (root / "unused-local-store").exists()
    finally:
        if serve is not None:
            serve.stop()
    return outputs


def test_every_command_prints_the_same_with_and_without_a_server(
    tmp_path: Path, tiny_gguf: Path, registry: str
) -> None:
    local = _session(tmp_path / "local", tiny_gguf, registry, server=False)
    served = _session(tmp_path / "served", tiny_gguf, registry, server=True)
    assert local == served
    assert local["create m -f ROOT/Modelfile"] == "rc=0\n"
    assert local["cp missing x"] == "rc=1\nError: model 'missing' not found\n"
    assert local["show missing"] == "rc=1\nError: model 'missing' not found\n"
    assert local["rm n"] == "rc=1\nError: model 'n' not found\n"  # the second rm
    assert local["stop missing"] == 'rc=1\nError: couldn\'t find model "missing" to stop\n'
    assert local["show n --system"] == "rc=0\nYou are tiny.\n"
    assert local["ps"] == "rc=0\nNAME    ID    SIZE    PROCESSOR    CONTEXT    PARALLEL    UNTIL\n"
    assert local["run m hello"] == "rc=0\nanswered\n"
    for step in ("pull", "push"):
        key = next(k for k in local if k.startswith(step))
        assert local[key] == "rc=0\n", key
    names = [line.split()[0] for line in local["list"].splitlines()[2:]]
    assert sorted(names) == ["g:latest", "m:latest", "n:latest"]
    assert "  Model\n    architecture        llama" in local["show n"]


def test_create_then_cp_uses_the_servers_store_not_ollama_models(tmp_path: Path, tiny_gguf: Path) -> None:
    """The issue's repro: a server on another port over another store; the client's
    ``OLLAMA_MODELS=X`` is not where create put the model, yet ``cp`` finds it (same store)."""
    port = free_port()
    server_env = cli_env(tmp_path / "server-store", tmp_path, OLLAMA_HOST=f"127.0.0.1:{port}")
    serve = ServeProcess(server_env)
    try:
        assert serve.listening, serve.text()
        env = {**server_env, "OLLAMA_MODELS": str(tmp_path / "X")}
        created = cli(env, "create", "m", "--from", str(tiny_gguf))
        assert created.returncode == 0, created.stderr
        copied = cli(env, "cp", "m", "n")
        assert copied.returncode == 0 and copied.stdout == "copied 'm' to 'n'\n", copied
        listed = cli(env, "list")
        assert listed.stderr == f"models of the server at http://127.0.0.1:{port}\n"
        assert [line.split()[0] for line in listed.stdout.splitlines()[1:]] == ["n:latest", "m:latest"]
    finally:
        serve.stop()
    assert not (tmp_path / "X").exists()
    local = cli(env, "list")  # the server is gone: the client's own store, said so
    assert local.returncode == 0
    assert local.stdout == "NAME    ID    SIZE    MODIFIED\n"
    assert local.stderr.startswith(
        f"models of the store at {tmp_path / 'X'} (no server at http://127.0.0.1:{port})\n"
    )
    assert "ollama-py create mymodel --from ./model.gguf" in local.stderr
