"""``python -m bench all``: every benchmark, one table, one JSON file.

    python -m bench all [--short] [--only NAME,...] [--skip NAME,...] [--json PATH] [--log PATH]
    python -m bench list
    python -m bench compare RUN.json RUN.json [...]

Each benchmark runs in its own process (see :mod:`bench.suite`), in full mode or with ``--short``
(CI-sized inputs). The table has one line per measure: measure, ours, baseline, ratio, target,
ok/MISS; benchmarks skipped (a missing tool) or failed are listed below it with the reason. The
JSON (default ``bench-results.json``) holds the date, the command, the machine, the measures and
the skips, so figures quoted in the docs can name the run they come from.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
from dataclasses import asdict
from pathlib import Path

from bench.report import Measure, format_table, measures_from_json
from bench.suite import BENCHES, Outcome, run_bench


def _names(text: str | None) -> set[str]:
    return {n.strip() for n in (text or "").split(",") if n.strip()}


def _run_all(args: argparse.Namespace) -> int:
    only, skip = _names(args.only), _names(args.skip)
    unknown = (only | skip) - {b.name for b in BENCHES}
    if unknown:
        print(
            f"unknown benchmark(s): {', '.join(sorted(unknown))}; see python -m bench list", file=sys.stderr
        )
        return 2
    chosen = [b for b in BENCHES if (not only or b.name in only) and b.name not in skip]
    args.log.write_text("")
    started = datetime.datetime.now(datetime.UTC)
    outcomes: list[Outcome] = []
    for bench in chosen:
        print(f"-- {bench.name} ({bench.summary}) ...", file=sys.stderr, flush=True)
        outcome = run_bench(bench, short=args.short, log=args.log, timeout=args.timeout)
        state = (outcome.skipped and "skipped") or (outcome.failed and "FAILED") or "done"
        print(f"   {state} in {outcome.seconds:.0f} s", file=sys.stderr, flush=True)
        outcomes.append(outcome)
    measures: list[Measure] = [m for o in outcomes for m in o.measures]
    mode = "short" if args.short else "full"
    print(
        f"\nbenchmarks, {mode} mode, {started:%Y-%m-%d %H:%M} UTC, {platform.node()} ({os.cpu_count()} CPUs)"
    )
    print(format_table(measures))
    for o in outcomes:
        if o.skipped:
            print(f"skipped {o.bench}: {o.skipped}")
        if o.failed:
            print(f"FAILED {o.bench}: {o.failed} (log: {args.log})")
    doc = {
        "date": started.isoformat(timespec="seconds"),
        "command": "python -m bench " + " ".join(sys.argv[1:]),
        "mode": mode,
        "machine": {"node": platform.node(), "cpus": os.cpu_count(), "python": platform.python_version()},
        "measures": [asdict(m) for m in measures],
        "skipped": {o.bench: o.skipped for o in outcomes if o.skipped},
        "failed": {o.bench: o.failed for o in outcomes if o.failed},
        "seconds": {o.bench: round(o.seconds, 1) for o in outcomes},
    }
    args.json.write_text(json.dumps(doc, indent=2) + "\n")
    print(f"written: {args.json}")
    return 1 if doc["failed"] else 0


def _compare(paths: list[Path]) -> int:
    """Print the runs' tables side by side: one row per measure, ``ours / baseline = ratio ok`` per run."""
    runs = [json.loads(p.read_text()) for p in paths]
    rows: dict[str, list[str]] = {}
    for i, run in enumerate(runs):
        for m in measures_from_json(run["measures"]):
            cells = rows.setdefault(f"{m.bench}: {m.name}", ["-"] * len(runs) + [m.target])
            base = f" / {m.baseline:.4g}" if m.baseline is not None else ""
            ratio = f" = {m.ratio:.2f}" if m.ratio is not None else ""
            cells[i] = f"{m.ours:.4g}{base} {m.unit}{ratio} {'ok' if m.ok else 'MISS'}"
    header = ["measure", *(f"{r['date']} ({r['mode']})" for r in runs), "target"]
    table = [header, *([name, *cells] for name, cells in rows.items())]
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    for r in table:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
    for path, run in zip(paths, runs, strict=True):
        for name, why in {**run.get("skipped", {}), **run.get("failed", {})}.items():
            print(f"{path.name}: {name}: {why}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("all", help="run every benchmark, print one table, write JSON")
    run.add_argument("--short", action="store_true", help="CI-sized inputs")
    run.add_argument("--only", help="comma-separated benchmark names (see: list)")
    run.add_argument("--skip", help="comma-separated benchmark names to leave out")
    run.add_argument("--json", type=Path, default=Path("bench-results.json"), help="where to write the JSON")
    run.add_argument("--log", type=Path, default=Path("bench-output.log"), help="the benchmarks' own output")
    run.add_argument("--timeout", type=float, default=3600, help="seconds per benchmark")
    sub.add_parser("list", help="the benchmarks and what they need")
    compare = sub.add_parser("compare", help="the tables of runs (their JSON files) side by side")
    compare.add_argument("runs", nargs="+", type=Path)
    args = parser.parse_args()
    if args.command == "compare":
        return _compare(args.runs)
    if args.command == "list":
        for b in BENCHES:
            needs = ", ".join((*b.programs, *b.python_modules)) or "-"
            print(f"{b.name:<13} {b.module:<26} needs: {needs:<40} {b.summary}")
        return 0
    return _run_all(args)


if __name__ == "__main__":
    sys.exit(main())
