"""Issue 15, missing parts named: without llama-cpp-python ``serve`` says so when it starts and a
chat answers "inference is not installed: pip install 'ollama-py[inference]'" (through a server
and in process); a runner that dies shows the last lines of its stderr (here a fake ``llama_cpp``
that aborts the way a broken native build does: exit status -6 with a Python fatal error).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from runner.protocol import INFERENCE_MISSING
from tests.support.checkout_env import ROOT
from tests.support.serve_process import cli, cli_env, free_port

#: ``ollama-py ARGS`` in a Python where ``import llama_cpp`` fails (as without the inference extra).
WITHOUT_LLAMA_CPP = (
    "import sys; sys.modules['llama_cpp'] = None; "
    "from registry.cli.main import main; sys.exit(main(sys.argv[1:]))"
)


def _cli_without_llama_cpp(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", WITHOUT_LLAMA_CPP, *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_serve_and_chat_without_llama_cpp_name_the_missing_extra(tmp_path: Path, tiny_gguf: Path) -> None:
    env = cli_env(tmp_path / "store", tmp_path, OLLAMA_HOST=f"127.0.0.1:{free_port()}")
    assert cli(env, "create", "tiny", "--from", str(tiny_gguf)).returncode == 0
    in_process = _cli_without_llama_cpp(env, "run", "tiny", "hello")
    assert in_process.returncode == 1
    assert in_process.stderr == f"Error: {INFERENCE_MISSING}\n"
    serve = subprocess.Popen(
        [sys.executable, "-c", WITHOUT_LLAMA_CPP, "serve"],
        env=env,
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert serve.stderr is not None
        log = []
        while line := serve.stderr.readline():
            log.append(line)
            if "warning:" in line:
                break
        assert f"warning: {INFERENCE_MISSING}" in "".join(log), log
        through_server = cli(env, "run", "tiny", "hello")  # this client has llama_cpp: the server has not
        assert through_server.returncode == 1
        assert through_server.stderr == f"Error: {INFERENCE_MISSING}\n"
    finally:
        serve.terminate()
        serve.wait(30)


def test_a_runner_that_dies_shows_its_last_stderr_lines(tmp_path: Path, tiny_gguf: Path) -> None:
    fake = tmp_path / "fake" / "llama_cpp"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text(
        "import os, sys\n"
        "sys.stderr.write('Fatal Python error: simulated crash in the native library\\n')\n"
        "sys.stderr.flush()\n"
        "os.abort()\n"
    )
    env = cli_env(tmp_path / "store", tmp_path, OLLAMA_HOST=f"127.0.0.1:{free_port()}")
    assert cli(env, "create", "tiny", "--from", str(tiny_gguf)).returncode == 0
    env["PYTHONPATH"] = f"{fake.parent}:{env['PYTHONPATH']}"
    ran = cli(env, "run", "tiny", "hello")
    assert ran.returncode == 1
    assert "llama runner process has terminated: exit status -6" in ran.stderr
    assert "Fatal Python error: simulated crash in the native library" in ran.stderr
