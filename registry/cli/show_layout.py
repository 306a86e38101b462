"""One layout for ``ollama-py show MODEL`` and the REPL's ``/show info``, rendered from an
``/api/show`` answer (Ollama's ``showInfo``): Model, Capabilities, Projector, Parameters, System, License,
Compatibility (ollama-py's: only for a GGUF the compatibility layer translates or refuses), and
with ``verbose`` Ollama's Metadata (every GGUF key, values as Go prints them, an array as the items
that fit in 10 columns and ``...+N more]``) and Tensors (name, type, shape) sections."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

__all__ = ["render_show_info"]

#: An array in the Metadata section shows the items that fit in this many columns (Ollama's).
_ARRAY_WIDTH = 10


def _go_number(value: float) -> str:
    """Go's ``%g`` of a float64 (JSON numbers are float64 in Ollama's CLI): the shortest digits,
    exponent form from 1e+06 up and below 1e-04 (``262144``, ``1e+06``, ``1e-06``, ``0.5``)."""
    if value != value or value in (float("inf"), float("-inf")):
        return {"nan": "NaN", "inf": "+Inf", "-inf": "-Inf"}[str(value)]
    if value == 0:
        return "0"
    sign, digits, exponent = Decimal(repr(float(value))).normalize().as_tuple()
    assert isinstance(exponent, int)
    text = "".join(map(str, digits))
    exp = len(text) + exponent - 1
    minus = "-" if sign else ""
    if exp < -4 or exp >= 6:
        mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
        return f"{minus}{mantissa}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    return minus + format(Decimal(repr(abs(float(value)))).normalize(), "f")


def _go_value(value: Any) -> str:
    """Go's ``%v`` of a JSON value."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return _go_number(float(value))
    if isinstance(value, list):
        return "[" + " ".join(_go_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{_go_value(v)}" for k, v in sorted(value.items())) + "]"
    return str(value)


def _value(value: Any) -> str:
    """A Metadata value as Ollama's ``showInfo`` prints it."""
    if not isinstance(value, list):
        return _go_value(value)
    shown, width = 0, 1
    for i, item in enumerate(value):
        item_width = len(_go_value(item)) + (2 if i else 0)
        if width + item_width > _ARRAY_WIDTH and i > 0:
            break
        width += item_width
        shown += 1
    if shown < len(value):
        return _go_value(value[:shown])[:-1] + f" ...+{len(value) - shown} more]"
    return _go_value(value)


def _model_rows(show: dict[str, Any]) -> list[tuple[str, str]]:
    details = show.get("details") or {}
    info = show.get("model_info") or {}
    arch = str(info.get("general.architecture") or details.get("family") or "")
    rows = [
        ("architecture", arch),
        ("parameters", str(details.get("parameter_size") or "")),
        ("context length", str(info.get(f"{arch}.context_length") or "")),
        ("embedding length", str(info.get(f"{arch}.embedding_length") or "")),
        ("quantization", str(details.get("quantization_level") or "")),
    ]
    return [(key, value) for key, value in rows if value]


def _table(rows: list[tuple[str, ...]]) -> list[str]:
    """Columns padded to their widest cell plus four spaces, as Ollama's tables."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))] if rows else []
    return ["    ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]


def _projector_rows(show: dict[str, Any]) -> list[str]:
    """Ollama's Projector table: architecture, parameters, embedding length, dimensions."""
    info = show.get("projector_info") or {}
    if not info:
        return []
    from registry.ggufmeta import human_number

    arch = str(info.get("general.architecture") or "")
    rows = [("architecture", arch)]
    if isinstance(info.get("general.parameter_count"), int | float):
        rows.append(("parameters", human_number(int(info["general.parameter_count"]))))
    for label, suffix in (("embedding length", "embedding_length"), ("dimensions", "projection_dim")):
        for modality in ("vision", "audio"):
            value = info.get(f"{arch}.{modality}.{suffix}")
            if value is not None:
                rows.append((label, str(value)))
                break
    return [f"{key:<20}{value}" for key, value in rows if value]


def _section(title: str, lines: list[str]) -> list[str]:
    return [f"  {title}", *(f"    {line}" for line in lines), ""] if lines else []


def render_show_info(show: dict[str, Any], *, verbose: bool = False) -> str:
    """The summary text (ends with a blank line)."""
    out = _section("Model", [f"{key:<20}{value}" for key, value in _model_rows(show)])
    out += _section("Capabilities", [str(c) for c in show.get("capabilities") or []])
    out += _section("Projector", _projector_rows(show))
    out += _section("Parameters", str(show.get("parameters") or "").splitlines())
    system = str(show.get("system") or "").strip().splitlines()
    out += _section("System", system if verbose else system[:2])
    license_text = str(show.get("license") or "").strip().splitlines()
    out += _section("License", license_text if verbose else license_text[:2])
    compat = [str(note) for note in show.get("compatibility") or []]
    if compat:
        out += _section(
            "Compatibility",
            [
                "runs through the GGUF compatibility layer (an Ollama-converted GGUF):",
                *(f"- {n}" for n in compat),
            ],
        )
    if verbose:
        info = show.get("model_info") or {}
        out += _section("Metadata", _table([(str(k), _value(v)) for k, v in sorted(info.items())]))
        tensors = [t for t in show.get("tensors") or [] if isinstance(t, dict)]
        out += _section(
            "Tensors",
            _table(
                [(str(t.get("name")), str(t.get("type")), _go_value(t.get("shape") or [])) for t in tensors]
            ),
        )
    return "\n".join(out) + ("\n" if out else "")
