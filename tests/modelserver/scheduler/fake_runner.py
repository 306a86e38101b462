"""An in-process fake of the scheduler's runner seam (:class:`~registry.modelserver.scheduler.Runner`
and :class:`~registry.modelserver.scheduler.RunnerFactory`): no process, no model, full control.

A :class:`FakeRunner` loads when its factory's ``loading`` gate is open, answers completions with
a fixed reply (or holds a completion until ``release`` is set), and can be killed (``alive`` False,
``ping`` False) or told to fail its load. :class:`FakeRunners` records every runner it started.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from typing import Any

from registry.errors import RunnerError
from registry.modelserver.scheduler import ModelSpec
from runner.protocol import CompletionRequest

__all__ = ["FakeRunner", "FakeRunners"]

#: Above Linux's largest pid (4194304): a fake's pid names no real process.
_FIRST_PID = 10_000_000


class FakeRunner:
    """One fake runner for ``spec``; ``factory`` holds the shared gates."""

    def __init__(self, spec: ModelSpec, pid: int, factory: FakeRunners) -> None:
        self.spec = spec
        self.info: dict[str, Any] = {}
        self._pid = pid
        self._factory = factory
        self.alive_flag = True
        self.answers_ping = True
        self.stopped = False
        self.completions = 0

    @property
    def pid(self) -> int:
        """A fake pid, unique per runner of one factory."""
        return self._pid

    @property
    def alive(self) -> bool:
        """False once killed or stopped."""
        return self.alive_flag and not self.stopped

    def kill(self) -> None:
        """Die as a crashed process would: not alive, no answer."""
        self.alive_flag = False

    async def wait_ready(self, timeout: float) -> dict[str, Any]:
        """Loaded once the factory's ``loading`` gate is open; fails when the factory says so."""
        await self._factory.loading.wait()
        if self._factory.fail_loads:
            raise RunnerError("unable to load model: fake failure")
        self.info = {"n_ctx": self.spec.settings.num_ctx, "bos": "", "eos": "", "chat_template": ""}
        return self.info

    async def ping(self) -> bool:
        """True while alive and answering."""
        return self.alive and self.answers_ping

    async def completion(self, request: CompletionRequest) -> AsyncGenerator[dict[str, Any], None]:
        """``"fake"`` echoing nothing, then done; waits for ``factory.release`` first when it is set up."""
        self.completions += 1
        if self._factory.release is not None:
            await self._factory.release.wait()
        if not self.alive:
            raise RunnerError("fake runner stopped")
        yield {"content": "fake"}
        yield {"done": True, "done_reason": "stop", "prompt_eval_count": 1, "eval_count": 1, "context": [1]}

    async def call(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """``/embedding``: a fixed vector; ``/tokenize`` and ``/detokenize``: empty answers."""
        if not self.alive:
            raise RunnerError("fake runner stopped")
        if path == "/embedding":
            return {"embedding": [3.0, 4.0], "prompt_eval_count": 1}
        return {"tokens": []} if path == "/tokenize" else {"content": ""}

    async def stop(self) -> None:
        """Stopped for good (idempotent)."""
        self.stopped = True


class FakeRunners:
    """The factory: starts :class:`FakeRunner` objects and keeps them in ``started``.

    ``loading`` gates every load (open by default); ``release``, when set to an event, holds every
    completion until it is set; ``fail_loads`` makes loads fail."""

    def __init__(self) -> None:
        self.started: list[FakeRunner] = []
        self.loading = asyncio.Event()
        self.loading.set()
        self.release: asyncio.Event | None = None
        self.fail_loads = False

    async def start(self, spec: ModelSpec) -> FakeRunner:
        """A new fake runner for ``spec`` (recorded in ``started``)."""
        runner = FakeRunner(spec, _FIRST_PID + len(self.started), self)
        self.started.append(runner)
        return runner

    def running(self) -> list[FakeRunner]:
        """The runners started and not stopped."""
        return [r for r in self.started if not r.stopped]
