"""Run ``ollama-py`` as a real subprocess against a store (for end-to-end CLI tests)."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from tests.support.checkout_env import ROOT, checkout_pythonpath


async def run_cli(store: Path, *args: str) -> tuple[int, str]:
    """Run ``ollama-py ARGS`` with ``OLLAMA_MODELS=store`` (and a private docker config); return
    the exit status and the combined output."""
    env = {
        **os.environ,
        "OLLAMA_MODELS": str(store),
        "DOCKER_CONFIG": str(store / "docker"),
        "PYTHONPATH": checkout_pythonpath(),
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "registry.cli.main",
        *args,
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await proc.communicate()
    return proc.returncode or 0, out.decode()
