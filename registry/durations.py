"""Duration parsing shared by settings and the APIs: Go duration strings and plain seconds.

Pure; no I/O. ``keep_alive`` semantics follow Ollama: a number is seconds, a string is a Go
duration (``"5m"``, ``"1h30m"``, ``"250ms"``), a negative value means forever (``None`` here), and
zero means unload right after the request.
"""

from __future__ import annotations

import math
import re

from registry.errors import InvalidInput

__all__ = ["format_go_duration", "parse_go_duration", "parse_keep_alive"]

_MAX_DURATION = (2**63 - 1) / 1e9  # seconds in Go's largest time.Duration
_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")


def parse_go_duration(text: str) -> float:
    """Seconds in a Go duration string such as ``"1h30m"`` or ``"-1s"``. A bare number is seconds.

    Raises:
        InvalidInput: ``time: invalid duration "<text>"`` (Go's wording).
    """
    s = text.strip()
    if not s:
        raise InvalidInput(f'time: invalid duration "{text}"')
    try:
        return float(s)
    except ValueError:
        pass
    sign = 1.0
    if s[0] in "+-":
        sign = -1.0 if s[0] == "-" else 1.0
        s = s[1:]
    if s == "0":
        return 0.0
    pos = 0
    total = 0.0
    while pos < len(s):
        match = _PART.match(s, pos)
        if match is None:
            raise InvalidInput(f'time: invalid duration "{text}"')
        total += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    return sign * total


def parse_keep_alive(value: object) -> float | None:
    """A keep_alive value in seconds; ``None`` means forever (any negative value).

    Accepts numbers (seconds) and Go duration strings. Raises :class:`InvalidInput` otherwise.
    """
    if isinstance(value, bool):
        raise InvalidInput(f"invalid keep_alive value {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        seconds = parse_go_duration(value)
    else:
        raise InvalidInput(f'invalid keep_alive value {value!r}: expected a duration like "5m" or seconds')
    if math.isnan(seconds):
        raise InvalidInput("invalid keep_alive value: NaN")
    # negative, or beyond what Go's Duration holds (about 292 years): forever
    return None if seconds < 0 or seconds > _MAX_DURATION else seconds


def format_go_duration(seconds: float) -> str:
    """Go's ``Duration.String()``: ``"812µs"``, ``"12.345678ms"``, ``"1.5s"``, ``"5m0s"``, ``"1h2m3s"``.

    Below one second Go switches to the largest unit that keeps a non-zero integer part (ms, µs,
    ns); from one second on it prints hours, minutes and seconds. Exact to the nanosecond.
    """
    ns = round(seconds * 1e9)
    if ns == 0:
        return "0s"
    sign = "-" if ns < 0 else ""
    ns = abs(ns)
    if ns < 1_000:
        return f"{sign}{ns}ns"
    if ns < 1_000_000:
        return sign + _trim(f"{ns / 1e3:.3f}") + "µs"
    if ns < 1_000_000_000:
        return sign + _trim(f"{ns / 1e6:.6f}") + "ms"
    hours, rem = divmod(ns, 3_600_000_000_000)
    minutes, rem = divmod(rem, 60_000_000_000)
    secs_text = _trim(f"{rem / 1e9:.9f}") + "s"
    if hours:
        return f"{sign}{hours}h{minutes}m{secs_text}"
    if minutes:
        return f"{sign}{minutes}m{secs_text}"
    return sign + secs_text


def _trim(number: str) -> str:
    """``"1.500"`` -> ``"1.5"``, ``"2.000"`` -> ``"2"``."""
    return number.rstrip("0").rstrip(".") if "." in number else number
