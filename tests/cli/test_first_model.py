"""Issue 15, a newcomer's first model: the README's "Your first model" commands work as written
(offline, the Gemma GGUF from PyPI); ``run`` of a model that is not here and cannot be pulled says
what to do next; ``create --from FILE.gguf`` needs no Modelfile.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from tests.support.checkout_env import ROOT
from tests.support.serve_process import cli, cli_env, free_port


def _readme_block(after: str) -> str:
    """The first indented code block after the line ``after`` in README.md, dedented."""
    text = (ROOT / "README.md").read_text()
    section = text[text.index(after) :]
    match = re.search(r"\n\n((?:    .*\n|\n)+?)\n(?! )", section)
    assert match is not None
    return "".join(line[4:] + "\n" for line in match.group(1).splitlines())


def test_readme_first_model_commands_work_offline(tmp_path: Path) -> None:
    script = _readme_block("## Your first model")
    assert "ollama-py create gemma -f Modelfile" in script
    env = cli_env(tmp_path / "store", tmp_path, OLLAMA_HOST=f"127.0.0.1:{free_port()}")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "ollama-py"  # the console script of this checkout, whatever is installed
    shim.write_text(f'#!/bin/sh\nexec "{_python()}" -m registry.cli.main "$@"\n')
    shim.chmod(0o755)
    # A script, not a symlink: a symlink to a venv's python, called by another path, finds no
    # pyvenv.cfg beside it and runs as the base interpreter (without this checkout's packages).
    python = bin_dir / "python"
    python.write_text(f'#!/bin/sh\nexec "{_python()}" "$@"\n')
    python.chmod(0o755)
    env["PATH"] = f"{bin_dir}:{env['PATH']}"
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    assert "success" in done.stderr and done.stdout.strip(), (done.stdout, done.stderr)


def _python() -> str:
    import sys

    return sys.executable


def test_run_of_a_model_that_cannot_be_pulled_says_what_to_do(tmp_path: Path) -> None:
    env = cli_env(tmp_path / "store", tmp_path, OLLAMA_HOST=f"127.0.0.1:{free_port()}")
    unreachable = f"127.0.0.1:{free_port()}/team/model:v1"
    ran = cli(env, "run", "--insecure", unreachable, "hello")
    assert ran.returncode == 1
    assert f"model '{unreachable}' is not in the store at {tmp_path / 'store'}" in ran.stderr
    assert "pulling it failed" in ran.stderr
    assert "ollama-py create mymodel --from ./model.gguf" in ran.stderr
    assert "FROM ./model.gguf" in ran.stderr and "import-ollama" in ran.stderr


def test_create_from_a_gguf_file_needs_no_modelfile(tmp_path: Path, tiny_gguf: Path) -> None:
    env = cli_env(tmp_path / "store", tmp_path, OLLAMA_HOST=f"127.0.0.1:{free_port()}")
    created = cli(env, "create", "tiny", "--from", str(tiny_gguf))
    assert created.returncode == 0 and created.stderr.endswith("success\n"), created.stderr
    shown = cli(env, "show", "tiny", "--modelfile")
    assert "FROM " in shown.stdout
    missing = cli(env, "create", "x", "--from", str(tmp_path / "nope.gguf"))
    assert missing.returncode == 1 and "GGUF file not found" in missing.stderr
    both = cli(env, "create", "x", "--from", str(tiny_gguf), "-f", "Modelfile")
    assert both.returncode == 2 and "not allowed with" in both.stderr
