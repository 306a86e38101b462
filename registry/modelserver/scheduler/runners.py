"""The scheduler's seam to its runners: a :class:`RunnerFactory` starts a :class:`Runner` for a
:class:`~registry.modelserver.scheduler.spec.ModelSpec`.

:class:`ProcessRunners` (the default) spawns ``python -m runner`` processes
(:class:`~registry.modelserver.scheduler.process.RunnerProcess`); tests may give the scheduler
another factory (an in-process fake) to exercise scheduling without llama.cpp.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Any, Protocol

from registry.errors import RunnerError
from registry.modelserver.scheduler.process import RunnerProcess
from registry.modelserver.scheduler.spec import ModelSpec
from runner.protocol import INFERENCE_MISSING, CompletionRequest, inference_installed

__all__ = ["ProcessRunners", "Runner", "RunnerFactory"]


class Runner(Protocol):
    """A started runner, as the scheduler and the API use it. Always :meth:`stop` it.

    Any number of requests may use it at once (the scheduler bounds them by its slots)."""

    @property
    def info(self) -> dict[str, Any]:
        """What the runner said about the model once loaded (``n_ctx``, ``chat_template``, ``bos``...)."""

    @property
    def pid(self) -> int:
        """The runner's process id (its memory is counted when a new model must fit)."""

    @property
    def alive(self) -> bool:
        """False once the runner has exited."""

    async def wait_ready(self, timeout: float) -> dict[str, Any]:
        """Wait until the model is loaded (``timeout``: a stall timeout); returns :attr:`info`.

        Raises:
            RunnerError: the load failed, the runner died, or it stalled.
        """

    async def ping(self) -> bool:
        """True when the runner answers its health check."""

    def completion(self, request: CompletionRequest) -> AsyncGenerator[dict[str, Any], None]:
        """Stream events (``{"content"}`` ... a final ``{"done": true}``); closing it cancels the job.

        Raises:
            InvalidInput: the runner rejected the request. RunnerError: it failed or stopped.
        """

    async def call(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST ``body`` to ``path`` (``/embedding``, ``/tokenize``, ``/detokenize``); the answer.

        Raises:
            InvalidInput: the runner rejected the input. RunnerError: it failed or is gone.
        """

    async def stop(self) -> None:
        """Stop the runner and free what it holds. Idempotent."""


class RunnerFactory(Protocol):
    """Starts runners for the scheduler."""

    async def start(self, spec: ModelSpec) -> Runner:
        """A runner loading ``spec``'s files with its settings (started; the scheduler waits for
        :meth:`Runner.wait_ready`)."""


@dataclass(frozen=True, slots=True)
class ProcessRunners:
    """The real runners: one ``python -m runner`` process per model (``verbose``: its debug log)."""

    verbose: bool = False

    async def start(self, spec: ModelSpec) -> Runner:
        """Spawn the runner process for ``spec`` (does not wait for the load).

        Raises:
            RunnerError: llama-cpp-python is not installed (:data:`INFERENCE_MISSING`).
        """
        if not inference_installed():
            raise RunnerError(INFERENCE_MISSING)
        return await RunnerProcess.start(spec.load_options(), verbose=self.verbose)
