"""Run ``ollama-py registry serve`` as a real subprocess (for restart, kill and scale-out tests)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import bcrypt

from tests.support.checkout_env import ROOT, checkout_pythonpath

__all__ = ["RegistryProcess", "locked_down_config"]


def locked_down_config(path: Path, scheme: str, repository: str | None = None) -> Path:
    """Write a registry config with ``scheme`` auth ("bearer" or "basic") and no anonymous pull: one
    user, alice (password "secret"), who may pull, push and delete ``repository`` (a pattern; None:
    no rules at all). Returns ``path``."""
    password_hash = bcrypt.hashpw(b"secret", bcrypt.gensalt(4)).decode()
    rules = (
        f"""[[auth.rules]]
repository = "{repository}"
users = ["alice"]
actions = ["pull", "push", "delete"]
"""
        if repository is not None
        else ""
    )
    path.write_text(f"""
[auth]
scheme = "{scheme}"
anonymous_pull = false
token_secret = "0123456789abcdef0123456789abcdef"
[[auth.users]]
name = "alice"
password_hash = "{password_hash}"
{rules}""")
    return path


class RegistryProcess:
    """A registry server subprocess listening on 127.0.0.1 (port 0 unless given)."""

    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        command = [sys.executable, "-m", "registry.cli.main", "registry", "serve", *args]
        if "--listen" not in args:
            command += ["--listen", "127.0.0.1:0"]
        full_env = dict(os.environ, PYTHONPATH=checkout_pythonpath(), **(env or {}))
        self.proc = subprocess.Popen(
            command, cwd=ROOT, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        self.url = self._wait_for_address()

    def _wait_for_address(self) -> str:
        assert self.proc.stdout is not None
        deadline = time.monotonic() + 30
        lines = []
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            match = re.search(r"listening on (http://\S+)", line)
            if match:
                return match.group(1)
        self.kill()
        raise RuntimeError("registry did not start:\n" + "".join(lines))

    def kill(self) -> None:
        """SIGKILL (a crash) and reap."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        """SIGTERM (a clean shutdown) and reap."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()
        if self.proc.stdout is not None:
            self.proc.stdout.close()
