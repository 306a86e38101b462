"""Every option a request may set (Ollama's ``api.Options`` and ``api.Runner``), with its type and
its range, in one table; :func:`check_options` is the one validator. The model server checks a
request's options with it before anything runs (a 400 naming the option), and the runner checks
what it receives again, so no value can reach llama.cpp unchecked.

The rules follow Ollama's ``Options.FromMap``: a null value is ignored (LangChain sends
``"num_gpu": null``); an unknown or removed option is ignored; a JSON number is accepted for an
integer option (the fraction is dropped, as Go's ``int64(float64)`` does); any other type is
``option "x" must be of type integer|float32|boolean|array``. On top of Ollama: NaN and infinities
are refused, and every number must lie in the range the runner and llama.cpp can take (C ``int32``,
``int64`` or ``float``; ``num_thread`` at most llama.cpp's ``GGML_MAX_N_THREADS``), so a request can
neither crash a runner nor make it allocate without bound. What depends on the model or the
machine (``num_ctx`` against the training context and memory, ``num_batch`` against ``num_ctx``)
is clamped or refused where that is known: the model server's ``prepare`` and the runner's engine.

Pure; no I/O. This module and :mod:`runner.protocol` are what the model server imports of the
runner.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "MAX_STOP_STRINGS",
    "MAX_THREADS",
    "OPTIONS",
    "OptionError",
    "OptionSpec",
    "check_options",
]

INT32 = (-(2**31), 2**31 - 1)
INT64 = (-(2**63), 2**63 - 1)
UINT64_MAX = 2**64 - 1
FLOAT32_MAX = 3.4028234663852886e38

#: llama.cpp's ``GGML_MAX_N_THREADS``: more threads than this abort the runner.
MAX_THREADS = 512

#: At most this many stop strings (each is checked against the output after every token).
MAX_STOP_STRINGS = 256


class OptionError(ValueError):
    """An option has the wrong type or lies outside its range; the message names the option."""


@dataclass(frozen=True, slots=True)
class OptionSpec:
    """An option's JSON type (Ollama's wording: integer, float32, boolean, array) and range."""

    kind: str
    low: float = 0
    high: float = 0


def _int(low: int, high: int) -> OptionSpec:
    return OptionSpec("integer", low, high)


_FLOAT = OptionSpec("float32", -FLOAT32_MAX, FLOAT32_MAX)

#: Every option Ollama knows today (``api.Runner`` first, then ``api.Options``).
OPTIONS: dict[str, OptionSpec] = {
    "num_ctx": _int(0, INT32[1]),  # 0: the server's default context length
    "num_batch": _int(0, INT32[1]),  # 0: the default (512); never more than num_ctx
    "num_thread": _int(0, MAX_THREADS),  # 0: one per physical core
    "num_gpu": _int(*INT32),  # negative: as many layers as fit
    "main_gpu": _int(0, INT32[1]),
    "use_mmap": OptionSpec("boolean"),
    "draft_num_predict": _int(0, INT32[1]),  # accepted; no draft models here
    "num_keep": _int(-1, INT32[1]),  # -1: keep the whole prompt when truncating
    "seed": _int(INT64[0], UINT64_MAX),  # negative: random; a uint64 hash too (low 32 bits are used)
    "num_predict": _int(*INT64),  # -1: up to 10 x num_ctx; -2: until the context is full
    "top_k": _int(*INT32),
    "top_p": _FLOAT,
    "min_p": _FLOAT,
    "typical_p": _FLOAT,
    "repeat_last_n": _int(-1, INT32[1]),  # -1: num_ctx; never more than num_ctx
    "temperature": _FLOAT,
    "repeat_penalty": _FLOAT,
    "presence_penalty": _FLOAT,
    "frequency_penalty": _FLOAT,
    "stop": OptionSpec("array"),
}


def _number(value: Any) -> str:
    """A number as a message may show it (never thousands of digits)."""
    if isinstance(value, int) and abs(value) >= 10**30:
        return "a number with more than 30 digits"
    return f"{value:g}" if isinstance(value, float) else str(value)


def _check_number(name: str, spec: OptionSpec, value: Any) -> int | float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise OptionError(f'option "{name}" must be of type {spec.kind}')
    if isinstance(value, float) and not math.isfinite(value):
        raise OptionError(f'option "{name}" must be a finite number, not {value}')
    if not spec.low <= value <= spec.high:
        raise OptionError(
            f'option "{name}" must be between {_number(spec.low)} and {_number(spec.high)}, '
            f"not {_number(value)}"
        )
    return int(value) if spec.kind == "integer" else float(value)


def _check_stop(value: Any) -> list[str]:
    stops = [value] if isinstance(value, str) else value
    if not isinstance(stops, list) or not all(isinstance(s, str) for s in stops):
        raise OptionError('option "stop" must be of type array')
    if len(stops) > MAX_STOP_STRINGS:
        raise OptionError(f'option "stop" may hold at most {MAX_STOP_STRINGS} strings, not {len(stops)}')
    return stops


def check_options(options: Any) -> dict[str, Any]:
    """The known, non-null options of ``options``, type-checked and range-checked: integers as
    ``int``, float32 options as ``float``, ``stop`` as a list of strings. ``None`` means no options.

    Raises:
        OptionError: ``options`` is not an object, or an option has the wrong type or range.
    """
    if options is None:
        return {}
    if not isinstance(options, Mapping):
        raise OptionError("options must be an object")
    out: dict[str, Any] = {}
    for name, value in options.items():
        spec = OPTIONS.get(name)
        if spec is None or value is None:
            continue  # unknown, removed, or null: ignored, as Ollama does
        if spec.kind == "boolean":
            if not isinstance(value, bool):
                raise OptionError(f'option "{name}" must be of type boolean')
            out[name] = value
        elif spec.kind == "array":
            out[name] = _check_stop(value)
        else:
            out[name] = _check_number(name, spec, value)
    return out
