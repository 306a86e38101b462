"""Model parameters (``PARAMETER`` lines, ``/api/create`` ``parameters``): names and types.

The names are the JSON tags of Ollama's ``api.Options``. Values from Modelfile text are typed as
Ollama's ``api.FormatParams`` does (int, float, bool, string, list of strings for ``stop``), but
stricter where Ollama is loose: floats must be finite; ints are plain decimal. Pure: no I/O.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

__all__ = [
    "DEPRECATED_PARAMETERS",
    "PARAMETER_TYPES",
    "ParameterError",
    "check_parameters",
    "parse_parameter",
]

#: Every parameter a model may carry, with its type (``list`` means a list of strings).
PARAMETER_TYPES: Mapping[str, type] = {
    # sampling
    "num_keep": int,
    "seed": int,
    "num_predict": int,
    "top_k": int,
    "top_p": float,
    "min_p": float,
    "typical_p": float,
    "repeat_last_n": int,
    "temperature": float,
    "repeat_penalty": float,
    "presence_penalty": float,
    "frequency_penalty": float,
    "stop": list,
    # load time
    "num_ctx": int,
    "num_batch": int,
    "num_gpu": int,
    "main_gpu": int,
    "use_mmap": bool,
    "num_thread": int,
    "draft_num_predict": int,
}

#: Accepted and ignored with a warning, as Ollama does (``tfs_z`` too: Ollama dropped it earlier).
DEPRECATED_PARAMETERS = frozenset(
    {
        "penalize_newline",
        "low_vram",
        "f16_kv",
        "logits_all",
        "vocab_only",
        "use_mlock",
        "mirostat",
        "mirostat_tau",
        "mirostat_eta",
        "tfs_z",
    }
)

_INT = re.compile(r"[+-]?[0-9]+")
_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})


class ParameterError(ValueError):
    """A parameter name is unknown or its value has the wrong type. ``str()`` is the message."""


def parse_parameter(name: str, text: str) -> Any:
    """Type one ``PARAMETER name text`` value. ``stop`` gives a one-element list.

    Raises:
        ParameterError: unknown name (``unknown parameter 'x'``) or a value that is not of the type
            (``invalid float value 'x' for parameter 'temperature'``). Deprecated names are not
            handled here: callers check :data:`DEPRECATED_PARAMETERS` first.
    """
    kind = PARAMETER_TYPES.get(name)
    if kind is None:
        raise ParameterError(f"unknown parameter '{name}'")
    if kind is list:
        return [text]
    if kind is str:
        return text
    if kind is bool:
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise ParameterError(f"invalid bool value '{text}' for parameter '{name}' (expected true or false)")
    if kind is int:
        if not _INT.fullmatch(text):
            raise ParameterError(f"invalid int value '{text}' for parameter '{name}' (expected an integer)")
        return int(text)
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or "_" in text:
        raise ParameterError(f"invalid float value '{text}' for parameter '{name}' (expected a number)")
    return value


def _check_one(name: str, value: Any) -> Any:
    kind = PARAMETER_TYPES[name]
    if kind is list:
        values = value if isinstance(value, list) else [value]
        if not all(isinstance(v, str) for v in values):
            raise ParameterError(
                f"invalid value for parameter '{name}': expected a string or a list of strings"
            )
        return list(values)
    if kind is bool:
        if isinstance(value, bool):
            return value
    elif kind is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
    elif isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    if isinstance(value, str):
        return parse_parameter(name, value)
    raise ParameterError(f"invalid {kind.__name__} value {value!r} for parameter '{name}'")


def check_parameters(values: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Validate and normalise a JSON ``parameters`` object (``/api/create``).

    Returns the typed parameters and warnings for deprecated names (which are dropped). Numbers
    given as strings are parsed as a Modelfile line would be.

    Raises:
        ParameterError: an unknown name or a value of the wrong type.
    """
    out: dict[str, Any] = {}
    warnings: list[str] = []
    for name, value in values.items():
        if name in DEPRECATED_PARAMETERS:
            warnings.append(f"parameter {name} is deprecated")
            continue
        if name not in PARAMETER_TYPES:
            raise ParameterError(f"unknown parameter '{name}'")
        out[name] = _check_one(name, value)
    return out, warnings
