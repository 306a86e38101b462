"""What the engine's loop schedules: a :class:`Job` (one completion in flight) and a :class:`Slot`
(one llama sequence with its cached tokens)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from runner.engine_media import MediaPrompt
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
    media: MediaPrompt | None = None
    """The images of the prompt (their placeholders are in ``tokens``); freed on the loop thread."""
    preserved: frozenset[int] = frozenset()
    """Special tokens generated as their text (:attr:`CompletionRequest.preserved_tokens`)."""
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

    @property
    def prompt_count(self) -> int:
        """Ollama's ``prompt_eval_count``: the prompt's tokens, each image's tokens included."""
        return len(self.tokens) + (self.media.extra_tokens if self.media is not None else 0)

    def media_start_within(self, start: int, end: int) -> int | None:
        """The start of the first image that begins in [start, end), if any."""
        if self.media is None:
            return None
        starts = [s for s in self.media.media if start <= s < end]
        return min(starts) if starts else None

    def cut_outside_media(self, position: int) -> int:
        """``position`` moved back to the start of the image it falls inside (if any)."""
        if self.media is not None:
            for m in self.media.media.values():
                if m.start < position < m.start + m.n_pos:
                    return m.start
        return position

    def free_media(self) -> None:
        """Free the images' chunks (loop thread). Idempotent."""
        if self.media is not None:
            self.media.close()

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
