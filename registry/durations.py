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
    return None if seconds < 0 else seconds


def format_go_duration(seconds: float) -> str:
    """Go's ``Duration.String()`` for whole-ish seconds, e.g. ``"5m0s"``, ``"1h0m0s"``, ``"1.5s"``."""
    if seconds == 0:
        return "0s"
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    hours, rem = divmod(seconds, 3600)
    minutes, secs = divmod(rem, 60)
    secs_text = f"{secs:.9f}".rstrip("0").rstrip(".")
    if hours:
        return f"{sign}{int(hours)}h{int(minutes)}m{secs_text}s"
    if minutes:
        return f"{sign}{int(minutes)}m{secs_text}s"
    return f"{sign}{secs_text}s"
