"""``python -m bench all`` (issue 17): one cheap benchmark in short mode runs in its own process,
prints the table and writes the JSON; a benchmark whose tool is missing is skipped with the reason."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.support.checkout_env import ROOT, checkout_pythonpath


def _bench_all(tmp_path: Path, *args: str, path: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": checkout_pythonpath()}
    if path is not None:
        env["PATH"] = path
    return subprocess.run(
        [sys.executable, "-m", "bench", "all", "--short", *args, "--log", str(tmp_path / "bench.log")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_one_cheap_bench_runs_and_writes_json(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    done = _bench_all(tmp_path, "--only", "create", "--json", str(out))
    assert done.returncode == 0, done.stdout + done.stderr
    header = done.stdout.splitlines()[2].split()
    assert header == ["measure", "ours", "baseline", "ratio", "target", "ok"], done.stdout
    doc = json.loads(out.read_text())
    assert doc["mode"] == "short" and doc["failed"] == {} and doc["skipped"] == {}
    (measure,) = doc["measures"]
    assert measure["bench"] == "create" and measure["ours"] > 0 and measure["baseline"] > 0
    assert measure["target"] == "ratio <= 1.3" and isinstance(measure["ok"], bool)
    assert "create:" in done.stdout and ("ok" in done.stdout or "MISS" in done.stdout)


def test_a_bench_whose_tool_is_missing_is_skipped_with_the_reason(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    empty = tmp_path / "bin"
    empty.mkdir()
    done = _bench_all(tmp_path, "--only", "registry", "--json", str(out), path=str(empty))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "skipped registry: needs the program 'curl' on PATH" in done.stdout
    doc = json.loads(out.read_text())
    assert doc["measures"] == [] and doc["skipped"] == {"registry": "needs the program 'curl' on PATH"}


def test_an_unknown_bench_name_is_refused(tmp_path: Path) -> None:
    done = _bench_all(tmp_path, "--only", "nope", "--json", str(tmp_path / "r.json"))
    assert done.returncode == 2 and "unknown benchmark(s): nope" in done.stderr
