"""What one render may use: :class:`Limits`, the running :class:`Budget`, and the errors."""

from __future__ import annotations

import time
from dataclasses import dataclass

__all__ = ["Budget", "BudgetExceeded", "Limits", "TemplateError"]


class TemplateError(ValueError):
    """The template cannot be parsed or executed."""


class BudgetExceeded(TemplateError):
    """An execution went beyond its :class:`Budget` (steps, output or time)."""


@dataclass(frozen=True, slots=True)
class Limits:
    """What one render may use. The defaults are far above what a chat template needs (a
    10,000-message conversation takes well under 1 % of them)."""

    max_steps: int = 1_000_000
    max_chars: int = 16 << 20
    max_seconds: float = 5.0
    max_range: int = 100_000
    max_depth: int = 100


class Budget:
    """The steps, characters and time left to one render (possibly several executions, e.g. one
    per turn). Not thread-safe: one render, one budget."""

    __slots__ = ("_deadline", "chars", "limits", "steps")

    def __init__(self, limits: Limits | None = None) -> None:
        self.limits = limits or Limits()
        self.steps = 0
        self.chars = 0
        self._deadline = time.monotonic() + self.limits.max_seconds

    def step(self) -> None:
        """Count one step of execution (a node, a command); checks the clock every 256 steps."""
        self.steps += 1
        if self.steps > self.limits.max_steps:
            raise BudgetExceeded(f"template: execution exceeded {self.limits.max_steps} steps")
        if not self.steps & 0xFF and time.monotonic() > self._deadline:
            raise BudgetExceeded(f"template: execution took longer than {self.limits.max_seconds:g} s")

    def produced(self, text: str) -> str:
        """Count ``text`` (output or a string a function made) against the character budget."""
        self.chars += len(text)
        self.check_room(0)
        return text

    def check_room(self, n: int) -> None:
        """Raise unless ``n`` more characters would fit."""
        if self.chars + n > self.limits.max_chars:
            raise BudgetExceeded(f"template: execution produced more than {self.limits.max_chars} characters")
