"""One layout for ``ollama-py show MODEL`` and the REPL's ``/show info``, rendered from an
``/api/show`` answer (Ollama's ``showInfo``): Model, Capabilities, Projector, Parameters, System, License,
Compatibility (ollama-py's: only for a GGUF the compatibility layer translates or refuses), and
with ``verbose`` a Metadata section with every GGUF key."""

from __future__ import annotations

from typing import Any

__all__ = ["render_show_info"]

#: A metadata list longer than this is shown as its first items and a count.
_LIST_PREVIEW = 5


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


def _value(value: Any) -> str:
    if isinstance(value, list):
        shown = ", ".join(str(v) for v in value[:_LIST_PREVIEW])
        more = f", ... ({len(value)} items)" if len(value) > _LIST_PREVIEW else ""
        return f"[{shown}{more}]"
    return str(value)


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
        width = max((len(str(k)) for k in info), default=0) + 4
        out += _section("Metadata", [f"{k:<{width}}{_value(v)}" for k, v in sorted(info.items())])
    return "\n".join(out) + ("\n" if out else "")
