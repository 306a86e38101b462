"""Run ``ollama-py serve`` (the model server) and other ``ollama-py`` commands as real subprocesses."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
from collections import deque
from pathlib import Path

from tests.support.checkout_env import ROOT, checkout_pythonpath

__all__ = ["ServeProcess", "cli", "cli_env", "free_port"]


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port free on ``host`` right now."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def cli_env(store: Path, home: Path, **extra: str) -> dict[str, str]:
    """The environment of an ``ollama-py`` subprocess over ``store`` (no database URL inherited)."""
    env = {
        **os.environ,
        "OLLAMA_MODELS": str(store),
        "HOME": str(home),
        "DOCKER_CONFIG": str(home / "docker"),
        "PYTHONPATH": checkout_pythonpath(),
        **extra,
    }
    env.pop("OLLAMA_PY_DATABASE_URL", None)
    return env


def cli(env: dict[str, str], *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``ollama-py ARGS`` to the end (2 minutes at most)."""
    return subprocess.run(
        [sys.executable, "-m", "registry.cli.main", *args],
        env=env,
        cwd=ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


class ServeProcess:
    """``ollama-py serve`` started with ``env`` (``OLLAMA_HOST`` says where); its log is kept.

    The constructor returns once the server listens (``listening``) or has exited.
    """

    def __init__(self, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "registry.cli.main", "serve"],
            env=env,
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.log: deque[str] = deque(maxlen=400)
        assert self.proc.stderr is not None
        self.listening = False
        while line := self.proc.stderr.readline():  # (a new store logs its migrations first)
            self.log.append(line)
            if "Listening on" in line:
                self.listening = True
                break
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.log.append(line)

    def wait(self, timeout: float = 60) -> int:
        """Wait for the process to end on its own; its exit status."""
        return self.proc.wait(timeout)

    def text(self) -> str:
        """Everything it logged so far."""
        return "".join(self.log)

    def stop(self) -> None:
        """SIGTERM and reap (SIGKILL after 30 s)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
