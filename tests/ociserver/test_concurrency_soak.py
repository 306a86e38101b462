"""Issue 10 concurrency soak: pushes, pulls, deletes and GC from several processes, on SQLite and
PostgreSQL, bounded in time, on loopback.

Two ``registry serve`` processes share one root (blob files and upload spool) and one catalog; one of
them runs online GC every 100 ms at grace 0, and ``registry gc --grace 0s`` processes run again and
again beside them. Clients push to, pull from and delete on both. Afterwards every acknowledged
manifest (not deleted by the workload) pulls back byte-identical, with all its blobs, from both.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.support.checkout_env import checkout_pythonpath
from tests.support.postgres import fresh_database
from tests.support.registry_process import RegistryProcess
from tests.support.registry_workload import Workload

pytestmark = pytest.mark.slow

_REPO_ROOT = Path(__file__).resolve().parents[2]


def _gc_processes(args: list[str], stop: threading.Event, failures: list[str]) -> int:
    """Run ``registry gc`` processes back to back until ``stop``; returns how many ran."""
    runs = 0
    env = dict(os.environ, PYTHONPATH=checkout_pythonpath())
    command = [sys.executable, "-m", "registry.cli.main", "registry", "gc", "--grace", "0s", *args]
    while not stop.is_set():
        done = subprocess.run(command, cwd=_REPO_ROOT, env=env, capture_output=True, text=True, timeout=120)
        runs += 1
        if done.returncode != 0:
            failures.append(done.stderr[-2000:])
    return runs


@pytest.mark.parametrize("catalog", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def test_concurrency_soak_every_acknowledged_manifest_pulls_back(
    tmp_path: Path, catalog: str, request: pytest.FixtureRequest
) -> None:
    root = tmp_path / "root"
    args = ["--root", str(root)]
    if catalog == "postgres":
        args += ["--database-url", fresh_database(request.getfixturevalue("postgres_url"))]
    online_gc = tmp_path / "gc.toml"
    online_gc.write_text('[server]\ntag_cache = "0"\n[gc]\ninterval = "100ms"\ngrace = "0s"\n')
    no_gc = tmp_path / "no-gc.toml"
    no_gc.write_text('[server]\ntag_cache = "0"\n')
    a = RegistryProcess(*args, "--config", str(online_gc))
    try:
        b = RegistryProcess(*args, "--config", str(no_gc))
        try:
            stop = threading.Event()
            failures: list[str] = []
            runs: list[int] = []
            gc = threading.Thread(target=lambda: runs.append(_gc_processes(args, stop, failures)))
            gc.start()
            try:
                workload = Workload([a.url, b.url], [b.url, a.url], clients=6, seconds=10.0, deletes=True)
                await workload.run()
            finally:
                stop.set()
                gc.join(150)
            problems = await workload.verify()
            assert not problems, f"{workload.summary()}; {len(problems)} problems, e.g. {problems[:5]}"
            assert not failures, failures[0]
            print(workload.summary(), f"{runs[0]} gc processes")
            assert len(workload.acked) >= 10 and workload.deleted >= 1 and runs[0] >= 1, workload.summary()
        finally:
            b.stop()
    finally:
        a.stop()
