"""What the engine's loop schedules: a :class:`Job` (one completion in flight) and a :class:`Slot`
(one llama sequence with its cached tokens)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from runner.engine_sampling import Sampler, StopText

__all__ = ["Emit", "Job", "PromptTooLong", "Slot", "common_prefix"]

Emit = Callable[[dict[str, Any]], None]


class PromptTooLong(ValueError):
    """The input does not fit the context and truncation was not allowed."""


@dataclass(eq=False)
class Job:
    """One completion in flight. ``emit`` receives ``{"content"}`` events then one final event
    (``{"done": True, ...}`` or ``{"error": ...}``)."""

    tokens: list[int]
    opts: dict[str, Any]
    grammar: str | None
    emit: Emit
    want_context: bool = False
    logprobs: bool = False
    top_logprobs: int = 0
    cancelled: threading.Event = field(default_factory=threading.Event)
    # set by the loop
    sampler: Sampler | None = None
    stop_text: StopText | None = None
    pending: list[int] = field(default_factory=list)
    generated: list[int] = field(default_factory=list)
    limit: int = 0
    fill_context: bool = False
    started: float = 0.0
    prompt_done: float = 0.0

    def cancel(self) -> None:
        """Ask the loop to drop this job; its slot is freed before the next decode. Idempotent."""
        self.cancelled.set()


@dataclass(eq=False)
class Slot:
    """One llama sequence: the tokens whose KV entries it holds, and the job it runs (if any)."""

    seq: int
    cache: list[int] = field(default_factory=list)  # tokens whose KV entries are in the context
    job: Job | None = None
    last_used: float = 0.0


def common_prefix(a: list[int], b: list[int]) -> int:
    """The length of the longest common prefix of two token lists."""
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i
