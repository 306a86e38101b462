"""``serve``, ``run`` (one-shot, piped, and the REPL through a pseudo-terminal), ``ps`` and
``stop`` as a person uses them: real processes on loopback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pexpect
import pytest

from registry.store.library import Library
from tests.support.checkout_env import checkout_pythonpath
from tests.support.gguf_models import add_gguf_model
from tests.support.serve_process import cli

ROOT = Path(__file__).parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server_env(library: Library, tiny_gguf: Path, tmp_path: Path) -> Iterator[dict[str, str]]:
    add_gguf_model(library, "tiny", tiny_gguf, system="You are tiny.", params={"num_predict": 8})
    env = {
        **os.environ,
        "OLLAMA_MODELS": str(tmp_path / "store"),
        "OLLAMA_HOST": f"127.0.0.1:{_free_port()}",
        "OLLAMA_CONTEXT_LENGTH": "256",
        "HOME": str(tmp_path),
        "PYTHONPATH": checkout_pythonpath(),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "registry.cli.main", "serve"],
        env=env,
        cwd=ROOT,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    assert "Listening on" in proc.stderr.readline()
    try:
        yield env
    finally:
        proc.terminate()
        proc.wait(30)


def test_one_shot_piped_ps_and_stop(server_env: dict[str, str]) -> None:
    done = cli(server_env, "run", "tiny", "hello", "--verbose")
    assert done.returncode == 0, done.stderr
    assert (
        "eval count:" in done.stderr and "total duration:" in done.stderr and "load duration:" in done.stderr
    )
    piped = cli(server_env, "run", "tiny", stdin="from stdin\n")
    assert piped.returncode == 0, piped.stderr
    ps = cli(server_env, "ps")
    assert ps.stdout.splitlines()[0].split() == [
        "NAME",
        "ID",
        "SIZE",
        "PROCESSOR",
        "CONTEXT",
        "PARALLEL",
        "UNTIL",
    ]
    assert "tiny:latest" in ps.stdout and "from now" in ps.stdout
    assert cli(server_env, "stop", "tiny").returncode == 0
    assert "tiny:latest" not in cli(server_env, "ps").stdout
    missing = cli(server_env, "stop", "nope")
    assert missing.returncode == 1 and 'couldn\'t find model "nope" to stop' in missing.stderr
    bad = cli(server_env, "run", f"127.0.0.1:{_free_port()}/library/nope", "x")  # nothing there to pull
    assert bad.returncode == 1 and "Error:" in bad.stderr


def test_rm_unloads_from_the_running_server_first(server_env: dict[str, str]) -> None:
    assert cli(server_env, "cp", "tiny", "spare").returncode == 0
    assert cli(server_env, "run", "spare", "hello").returncode == 0
    assert "spare:latest" in cli(server_env, "ps").stdout
    removed = cli(server_env, "rm", "spare")
    assert removed.returncode == 0 and removed.stdout == "deleted 'spare'\n"
    assert "spare:latest" not in cli(server_env, "ps").stdout
    assert "tiny:latest" in cli(server_env, "list").stdout


def test_repl_session(server_env: dict[str, str]) -> None:
    child = pexpect.spawn(
        sys.executable,
        ["-m", "registry.cli.main", "run", "tiny"],
        env=server_env,
        cwd=str(ROOT),
        encoding="utf-8",
        timeout=60,
    )
    try:
        child.expect_exact(">>> ")
        child.sendline("/set parameter num_predict 4")
        child.expect_exact("Set parameter 'num_predict' to '4'")
        child.sendline("/set parameter temperature hot")
        child.expect_exact("Couldn't set parameter")
        child.sendline("/set system Be short.")
        child.expect_exact("Set system message.")
        child.sendline("/show system")
        child.expect_exact("Be short.")
        child.sendline("/show template")
        child.expect_exact("No prompt template was specified for this model.")
        child.sendline("/set format json")
        child.expect_exact("Set format to 'json' mode.")
        child.sendline("/set noformat")
        child.expect_exact("Disabled format.")
        child.sendline("/set verbose")
        child.expect_exact("Set 'verbose' mode.")
        child.sendline("hello there")
        child.expect_exact("eval rate:")
        child.sendline('"""first line')
        child.expect_exact("... ")
        child.sendline('second line"""')
        child.expect_exact("eval rate:")
        child.sendline("/clear")
        child.expect_exact("Cleared session context")
        child.sendline("/nonsense")
        child.expect_exact("Unknown command '/nonsense'. Type /? for help")
        child.sendline("/?")
        child.expect_exact("/bye            Exit")
        child.sendline("/load nope")
        child.expect_exact("Couldn't find model 'nope'")
        child.sendline("/bye")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert child.exitstatus == 0
    assert (Path(server_env["HOME"]) / ".ollama-py" / "history").exists()


def test_serve_refuses_a_busy_port(server_env: dict[str, str]) -> None:
    start = time.monotonic()
    again = cli(server_env, "serve")
    assert again.returncode == 1 and "Error:" in again.stderr
    assert time.monotonic() - start < 60


def _spawn(env: dict[str, str], *args: str) -> pexpect.spawn:
    return pexpect.spawn(
        sys.executable,
        ["-m", "registry.cli.main", *args],
        env=env,
        cwd=str(ROOT),
        encoding="utf-8",
        timeout=60,
    )


def test_repl_placeholder_spinner_flags_anywhere_and_show_info(server_env: dict[str, str]) -> None:
    """Issue 15: Ollama's placeholder after an empty prompt (gone at the first key), a spinner while
    the model loads and before the first token, ``run MODEL --verbose`` (a flag after the model),
    an unknown ``/set`` sub-command answered, and ``/show info`` printing ``show``'s layout."""
    from registry.cli.spinner import FRAMES

    assert cli(server_env, "stop", "tiny").returncode == 0  # so that the load takes a while
    child = _spawn(server_env, "run", "tiny", "--verbose")
    try:
        child.expect_exact(FRAMES[0])  # loading
        child.expect_exact(">>> \x1b[2mSend a message (/? for help)\x1b[0m")
        child.sendline("/set thinking")
        child.expect_exact("Unknown command '/set thinking'. Type /? for help")
        child.expect_exact("Send a message (/? for help)")
        child.sendline("/set think high")  # answered, with Ollama's warning for a model that cannot
        child.expect_exact('warning: model "tiny" does not support thinking output')
        child.expect_exact("Set 'think' mode to 'high'.")
        child.expect_exact("Send a message (/? for help)")
        child.sendline("/set nothink")
        child.expect_exact("Set 'nothink' mode.")
        child.expect_exact("Send a message (/? for help)")
        child.sendline("/show info")
        child.expect_exact("  Model\r\n    architecture        llama")
        child.expect_exact("Send a message (/? for help)")
        child.sendline("hello")
        child.expect_exact(FRAMES[0])  # waiting for the first token
        child.expect_exact("eval rate:")  # --verbose was taken although it came after the model
        child.expect_exact("Send a message (/? for help)")
        child.sendcontrol("d")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert child.exitstatus == 0
    shown = cli(server_env, "show", "tiny")
    assert shown.stdout.startswith("  Model\n    architecture        llama")


def test_show_verbose_adds_the_metadata(server_env: dict[str, str]) -> None:
    plain = cli(server_env, "show", "tiny").stdout
    verbose = cli(server_env, "show", "tiny", "-v").stdout
    assert "  Metadata" not in plain and "  Metadata" in verbose
    assert "general.architecture" in verbose and "llama.context_length" in verbose
    assert verbose.startswith(plain.rstrip("\n"))
    # Ollama's layout: an array as the items that fit in 10 columns and a count, then the tensors
    lines = verbose.splitlines()
    assert "    tokenizer.ggml.tokens                     [<unk> ...+350 more]" in lines
    assert "    tokenizer.ggml.scores                     [0 0 0 ...+348 more]" in lines
    tensors = verbose.split("  Tensors\n", 1)[1].splitlines()
    assert tensors[0] == "    token_embd.weight           F32    [64 351]"
    assert tensors[1] == "    output_norm.weight          F32    [64]"
