"""One shape for every benchmark's figures, so ``python -m bench all`` can put them in one table.

A :class:`Measure` is one line: what was measured, our figure, the baseline measured in the same
run (when there is one), their ratio oriented so that bigger is better, the target and whether it
was met. Each benchmark module builds its measures and hands them to :func:`emit`, which prints
them (and writes them as JSON with ``--json PATH``). :func:`add_common_args` gives every
benchmark the same ``--short`` (CI-sized) and ``--json`` flags.
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "Measure",
    "add_common_args",
    "at_least",
    "at_most",
    "emit",
    "format_table",
    "info",
    "measures_from_json",
    "ratio_at_least",
    "ratio_at_most",
]


@dataclass(frozen=True, slots=True)
class Measure:
    """One figure. ``ratio`` is ours against the baseline (None without one); ``target`` is
    readable text (``ratio >= 0.95``, ``< 100 MB``); ``ok`` whether it was met."""

    bench: str
    name: str
    ours: float
    unit: str
    baseline: float | None
    ratio: float | None
    target: str
    ok: bool
    note: str = ""


def ratio_at_least(
    bench: str, name: str, ours: float, baseline: float, unit: str, target: float, note: str = ""
) -> Measure:
    """A higher-is-better figure (throughput) against a baseline: ratio ours/baseline >= target."""
    ratio = ours / baseline if baseline else math.inf
    return Measure(bench, name, ours, unit, baseline, ratio, f"ratio >= {target:g}", ratio >= target, note)


def ratio_at_most(
    bench: str, name: str, ours: float, baseline: float, unit: str, target: float, note: str = ""
) -> Measure:
    """A lower-is-better figure (a time) against a baseline: ratio ours/baseline <= target."""
    ratio = ours / baseline if baseline else math.inf
    return Measure(bench, name, ours, unit, baseline, ratio, f"ratio <= {target:g}", ratio <= target, note)


def at_most(bench: str, name: str, ours: float, unit: str, limit: float, note: str = "") -> Measure:
    """An absolute figure that must stay below ``limit`` (memory, latency)."""
    return Measure(bench, name, ours, unit, None, None, f"< {limit:g} {unit}", ours < limit, note)


def at_least(bench: str, name: str, ours: float, unit: str, floor: float, note: str = "") -> Measure:
    """An absolute figure that must reach ``floor``."""
    return Measure(bench, name, ours, unit, None, None, f">= {floor:g} {unit}", ours >= floor, note)


def info(
    bench: str, name: str, ours: float, unit: str, baseline: float | None = None, note: str = ""
) -> Measure:
    """A figure shown for reference, with no target (always ``ok``)."""
    ratio = ours / baseline if baseline else None
    return Measure(bench, name, ours, unit, baseline, ratio, "(info)", True, note)


def _num(value: float | None) -> str:
    if value is None:
        return "-"
    if value == 0 or abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 1:
        return f"{value:.2f}"
    return f"{value:.3g}"


def format_table(measures: Sequence[Measure]) -> str:
    """The measures as an aligned text table: measure, ours, baseline, ratio, target, ok/MISS."""
    rows = [["measure", "ours", "baseline", "ratio", "target", "ok"]]
    for m in measures:
        rows.append(
            [
                f"{m.bench}: {m.name}",
                f"{_num(m.ours)} {m.unit}",
                f"{_num(m.baseline)} {m.unit}" if m.baseline is not None else "-",
                _num(m.ratio),
                m.target,
                "ok" if m.ok else "MISS",
            ]
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows)


def add_common_args(parser: argparse.ArgumentParser) -> None:
    """``--short`` (CI-sized inputs) and ``--json PATH`` (write the measures there)."""
    parser.add_argument("--short", action="store_true", help="CI-sized inputs (minutes, not tens)")
    parser.add_argument("--json", type=Path, default=None, help="write the measures as JSON here")


def emit(measures: Iterable[Measure], args: argparse.Namespace) -> None:
    """Print the measures as a table; write them to ``args.json`` when given."""
    listed = list(measures)
    print(format_table(listed), flush=True)
    if getattr(args, "json", None) is not None:
        args.json.write_text(json.dumps([asdict(m) for m in listed], indent=2) + "\n")


def measures_from_json(data: Any) -> list[Measure]:
    """The measures :func:`emit` wrote (a JSON list of objects)."""
    return [Measure(**item) for item in data]
