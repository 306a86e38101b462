"""``run --think[=level]`` and ``--hidethinking`` as a person uses them (real processes on
loopback): thinking is printed between Ollama's ``Thinking...`` and ``...done thinking.`` (plain text
when standard output is not a terminal), hidden on request, and a bad level is refused."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pexpect
import pytest

from registry.store.library import Library
from tests.support.checkout_env import checkout_pythonpath
from tests.support.gguf_models import add_gguf_model
from tests.support.serve_process import cli

ROOT = Path(__file__).parents[2]
#: The tiny model's chat format with thinking: the prompt opens ``<think>`` when thinking is on, so
#: the tiny model's nonsense is all thinking (it never writes ``</think>``).
THINKING_TEMPLATE = (
    "{{- range $i, $_ := .Messages }}<|{{ .Role }}|>"
    "{{- if .Thinking }}<think>{{ .Thinking }}</think>{{ end }}{{ .Content }}</s>"
    "{{- end }}<|assistant|>{{ if .Think }}<think>{{ end }}"
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server_env(library: Library, tiny_gguf: Path, tmp_path: Path) -> Iterator[dict[str, str]]:
    params = {"num_predict": 8, "temperature": 0}
    add_gguf_model(library, "thinker", tiny_gguf, template=THINKING_TEMPLATE, params=params)
    add_gguf_model(library, "tiny", tiny_gguf, params=params)
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


def test_think_flags(server_env: dict[str, str]) -> None:
    shown = cli(server_env, "run", "thinker", "--think", "hello")  # a bare --think takes no word
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith("Thinking...\n") and "\n...done thinking.\n\n" in shown.stdout
    assert "\x1b[" not in shown.stdout  # no colours when standard output is not a terminal
    thought = shown.stdout.removeprefix("Thinking...\n").split("\n...done thinking.")[0]
    assert thought.strip()
    default = cli(server_env, "run", "thinker", "hello")  # a thinking model thinks by default
    assert default.stdout == shown.stdout
    hidden = cli(server_env, "run", "thinker", "hello", "--hidethinking")
    assert hidden.returncode == 0 and "Thinking..." not in hidden.stdout and thought not in hidden.stdout
    off = cli(server_env, "run", "thinker", "--think=false", "hello")
    assert off.returncode == 0 and "Thinking..." not in off.stdout and off.stdout.strip()
    bad = cli(server_env, "run", "thinker", "--think=huge", "hello")
    assert bad.returncode == 1 and 'invalid value for --think: "huge"' in bad.stderr
    refused = cli(server_env, "run", "tiny", "--think", "hello")
    assert refused.returncode == 1 and '"tiny" does not support thinking' in refused.stderr


def test_repl_shows_thinking_grey_on_a_terminal_and_set_nothink(server_env: dict[str, str]) -> None:
    child = pexpect.spawn(
        sys.executable,
        ["-m", "registry.cli.main", "run", "thinker"],
        env=server_env,
        cwd=str(ROOT),
        encoding="utf-8",
        timeout=60,
    )
    try:
        child.expect_exact("Send a message (/? for help)")
        child.sendline("hello")
        child.expect_exact("\x1b[38;5;245m\x1b[1mThinking...\r\n\x1b[0m\x1b[38;5;245m")  # Ollama's codes
        child.expect_exact("\x1b[38;5;245m\x1b[1m...done thinking.\r\n\r\n\x1b[0m")
        child.expect_exact("Send a message (/? for help)")
        child.sendline("/set nothink")
        child.expect_exact("Set 'nothink' mode.")
        child.expect_exact("Send a message (/? for help)")
        child.sendline("hello")
        child.expect_exact("Send a message (/? for help)")
        assert "Thinking..." not in (child.before or "")
        child.sendcontrol("d")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert child.exitstatus == 0


def test_show_reports_thinking_as_ollama_infers_it_with_or_without_a_server(
    server_env: dict[str, str], library: Library, tiny_gguf: Path
) -> None:
    """``.Thinking`` outside a block with text tags (here: no opening text) is no thinking."""
    add_gguf_model(
        library, "names-thinking", tiny_gguf, template="{{ range .Messages }}{{ .Thinking }};{{ end }}"
    )
    local = {**server_env, "OLLAMA_HOST": f"127.0.0.1:{_free_port()}"}  # nothing listens: in process
    for env in (server_env, local):
        thinks = cli(env, "show", "thinker")
        assert thinks.returncode == 0, thinks.stderr
        assert "    thinking" in thinks.stdout.split("Capabilities")[1]
        plain = cli(env, "show", "names-thinking")
        assert "thinking" not in plain.stdout.split("Capabilities")[1]
