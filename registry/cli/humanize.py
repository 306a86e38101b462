"""Ollama's human-readable sizes and times (``format/bytes.go``, ``format/time.go``)."""

from __future__ import annotations

import math
import time

__all__ = ["human_bytes", "human_duration", "human_time"]

_UNITS = (("TB", 1000**4), ("GB", 1000**3), ("MB", 1000**2), ("KB", 1000))


def human_bytes(n: int) -> str:
    """Decimal units as Ollama prints them: ``"4.7 GB"``, ``"12 MB"``, ``"512 B"``."""
    for unit, size in _UNITS:
        if n >= size:
            value = n / size
            if value >= 10:
                return f"{int(value)} {unit}"
            if value != math.trunc(value):
                return f"{value:.1f} {unit}"
            return f"{int(value)} {unit}"
    return f"{n} B"


def human_duration(seconds: float) -> str:
    """``"Less than a second"``, ``"3 minutes"``, ``"About an hour"``, ``"4 weeks"``..."""
    s = int(seconds)
    if s < 1:
        return "Less than a second"
    if s == 1:
        return "1 second"
    if s < 60:
        return f"{s} seconds"
    minutes = s // 60
    if minutes == 1:
        return "About a minute"
    if minutes < 60:
        return f"{minutes} minutes"
    hours = round(seconds / 3600)
    if hours == 1:
        return "About an hour"
    if hours < 48:
        return f"{hours} hours"
    if hours < 24 * 7 * 2:
        return f"{hours // 24} days"
    if hours < 24 * 30 * 2:
        return f"{hours // 24 // 7} weeks"
    if hours < 24 * 365 * 2:
        return f"{hours // 24 // 30} months"
    return f"{int(seconds / 3600 / 24 / 365)} years"


def human_time(at: float | None, zero: str = "Never", now: float | None = None) -> str:
    """``"<duration> ago"`` / ``"<duration> from now"``; ``zero`` for None; "Forever" far ahead."""
    if at is None:
        return zero
    delta = (time.time() if now is None else now) - at
    if delta / 3600 / 24 / 365 < -20:
        return "Forever"
    if delta < 0:
        return f"{human_duration(-delta)} from now"
    return f"{human_duration(delta)} ago"
