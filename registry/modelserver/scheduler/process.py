"""One runner subprocess seen from the model server: spawn, wait until loaded, talk, kill.

The runner listens on a unix socket in a private temporary directory. Its stdin is a pipe we never
write to: when this process dies the runner sees end of file and exits. Its stderr is read
continuously; the last error-looking lines make error messages useful.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import sys
import tempfile
import time
from collections import deque
from collections.abc import AsyncGenerator
from pathlib import Path
from typing import Any

import aiohttp

from registry.errors import InvalidInput, RunnerError
from runner.protocol import HEALTH_ERROR, HEALTH_OK, CompletionRequest, LoadOptions, runner_argv

__all__ = ["CRASHED_MESSAGE", "STDERR_TAIL_LINES", "RunnerProcess"]

#: How many of a dead runner's last stderr lines its error message quotes.
STDERR_TAIL_LINES = 5

CRASHED_MESSAGE = (
    "model runner has unexpectedly stopped, this may be due to resource limitations or an internal error, "
    "check ollama server logs for details"
)


class RunnerProcess:
    """A started runner. Create with :meth:`start`; always :meth:`stop` it.

    Concurrency: any number of requests may use it at once (the scheduler bounds them by the
    number of slots)."""

    def __init__(self, options: LoadOptions, proc: asyncio.subprocess.Process, workdir: Path) -> None:
        self.options = options
        self.proc = proc
        self.workdir = workdir
        self.socket_path = str(workdir / "runner.sock")
        self.info: dict[str, Any] = {}
        self._stderr: deque[str] = deque(maxlen=50)
        self._stderr_task = asyncio.get_running_loop().create_task(self._read_stderr())
        self._session = aiohttp.ClientSession(
            connector=aiohttp.UnixConnector(path=self.socket_path, limit=0),
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=10),
        )

    @classmethod
    async def start(cls, options: LoadOptions, *, verbose: bool = False) -> RunnerProcess:
        """Spawn ``python -m runner`` for ``options`` (does not wait for the load)."""
        workdir = Path(tempfile.mkdtemp(prefix="ollama-py-runner-"))
        argv = runner_argv(options, str(workdir / "runner.sock"), python=sys.executable)
        if verbose:
            argv.append("--verbose")
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        return cls(options, proc, workdir)

    @property
    def pid(self) -> int:
        """The runner's process id."""
        return int(self.proc.pid)

    @property
    def alive(self) -> bool:
        """False once the process has exited."""
        return self.proc.returncode is None

    async def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        while True:
            line = await self.proc.stderr.readline()
            if not line:
                return
            self._stderr.append(line.decode("utf-8", errors="replace").rstrip())

    def last_error(self) -> str:
        """The most telling recent stderr line ("error:", "GGML_ASSERT", ...), or ""."""
        for line in reversed(self._stderr):
            low = line.lower()
            if low.startswith(("error", "panic", "ggml_assert")) or "cuda error" in low or "exception" in low:
                return line.removeprefix("error: ")
        return ""

    def last_lines(self, count: int = STDERR_TAIL_LINES) -> list[str]:
        """The last ``count`` non-blank lines the runner wrote to stderr."""
        return [line for line in self._stderr if line.strip()][-count:]

    def _crashed(self, prefix: str = CRASHED_MESSAGE) -> RunnerError:
        """The error for a runner that stopped: its most telling line, and once the process has
        exited the last lines of its stderr too (a Python fatal error, a missing library...)."""
        detail = self.last_error()
        message = f"{prefix}: {detail}" if detail else prefix
        if not self.alive:
            tail = [line for line in self.last_lines() if line.removeprefix("error: ") != detail]
            if tail:
                message += "; runner's last output: " + " | ".join(tail)
        return RunnerError(message)

    async def _died(self) -> RunnerError:
        """:meth:`_crashed` once the process had up to a second to exit and its stderr to drain."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self.proc.wait()), 1.0)
        await asyncio.sleep(0.05)
        return self._crashed()

    async def wait_ready(self, timeout: float) -> dict[str, Any]:
        """Poll ``/health`` until the model is loaded; returns the runner's ``info``.

        ``timeout`` is a stall timeout: it restarts whenever the load progresses.

        Raises:
            RunnerError: the load failed (llama.cpp's reason), the process died, or it stalled.
        """
        deadline = time.monotonic() + timeout
        progress = -1.0
        while True:
            if not self.alive:
                await asyncio.sleep(0.05)  # let stderr drain
                raise self._crashed(
                    f"llama runner process has terminated: exit status {self.proc.returncode}"
                )
            try:
                async with self._session.get("http://runner/health") as resp:
                    health = await resp.json()
            except (aiohttp.ClientError, OSError, ValueError):
                health = None
            if health is not None:
                if health.get("status") == HEALTH_OK:
                    self.info = dict(health.get("info") or {})
                    return self.info
                if health.get("status") == HEALTH_ERROR:
                    raise RunnerError(f"unable to load model: {health.get('error') or 'unknown error'}")
                if float(health.get("progress", 0.0)) > progress:
                    progress = float(health.get("progress", 0.0))
                    deadline = time.monotonic() + timeout
            if time.monotonic() > deadline:
                raise RunnerError("timed out waiting for llama runner to start")
            await asyncio.sleep(0.01 if health is None else 0.02)

    async def ping(self) -> bool:
        """True when the runner answers ``/health`` with ok within 2 s."""
        if not self.alive:
            return False
        try:
            async with self._session.get(
                "http://runner/health", timeout=aiohttp.ClientTimeout(total=2)
            ) as resp:
                return bool((await resp.json()).get("status") == HEALTH_OK)
        except (aiohttp.ClientError, OSError, ValueError, TimeoutError):
            return False

    async def completion(self, request: CompletionRequest) -> AsyncGenerator[dict[str, Any], None]:
        """Stream the runner's events for ``request`` (``{"content"}`` ... final ``{"done"}``).

        Closing the iterator early closes the connection, which cancels the job in the runner.

        Raises:
            InvalidInput: the runner rejected the request (400).
            RunnerError: the runner reported an error or stopped mid-request.
        """
        try:
            async with self._session.post("http://runner/completion", json=request.to_json()) as resp:
                if resp.status != 200:
                    raise await self._http_error(resp)
                done = False
                async for line in resp.content:
                    if not line.strip():
                        continue
                    event = json.loads(line)
                    if "error" in event:
                        raise RunnerError(
                            f"an error was encountered while running the model: {event['error']}"
                        )
                    yield event
                    if event.get("done"):
                        done = True
                        break
                if not done:
                    raise await self._died()
        except (aiohttp.ClientError, OSError) as err:
            raise await self._died() from err

    async def _http_error(self, resp: aiohttp.ClientResponse) -> Exception:
        try:
            message = str((await resp.json()).get("error", resp.reason))
        except (ValueError, aiohttp.ClientError):
            message = str(resp.reason)
        if resp.status == 400:
            return InvalidInput(message)
        return RunnerError(message)

    async def call(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST ``body`` to ``path`` (``/embedding``, ``/tokenize``, ``/detokenize``); the JSON answer.

        Raises:
            InvalidInput: the runner rejected the input (400).
            RunnerError: the runner failed or is gone.
        """
        try:
            async with self._session.post(f"http://runner{path}", json=body) as resp:
                if resp.status != 200:
                    raise await self._http_error(resp)
                result: dict[str, Any] = await resp.json()
                return result
        except (aiohttp.ClientError, OSError) as err:
            raise await self._died() from err

    async def stop(self) -> None:
        """Kill the runner and clean up. Idempotent."""
        if self.alive:
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()
        with contextlib.suppress(ProcessLookupError):
            await self.proc.wait()
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        self._stderr_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._stderr_task
        await self._session.close()
        shutil.rmtree(self.workdir, ignore_errors=True)
