"""SIGKILL in the middle of create (while quantizing): no model, a store that verifies clean, and
nothing left that prune does not collect; the quantizer child does not outlive its parent."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from registry.store.catalog import ModelsCatalog
from registry.store.library import Library
from registry.store.library.lease import DEFAULT_LEASE_TTL
from tests.modelserver.creator.test_cli_create import ROOT, env_for, free_port
from tests.support.tiny_gguf import write_tiny_gguf

pytestmark = pytest.mark.slow


def test_sigkill_while_quantizing(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    write_tiny_gguf(
        work / "big.gguf", embedding_length=512, feed_forward_length=16384, block_count=2, head_count=8
    )
    (work / "Modelfile").write_text("FROM ./big.gguf\nSYSTEM killed\n")
    store = tmp_path / "store"
    env = env_for(store, f"127.0.0.1:{free_port()}")
    child = subprocess.Popen(
        [sys.executable, "-m", "registry.cli.main", "create", "victim", "-q", "q8_0"],
        cwd=work, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    tmp_dir = store / "tmp"
    while time.monotonic() < deadline and not (tmp_dir.exists() and any(tmp_dir.glob("quantize-*"))):
        assert child.poll() is None, child.stderr.read() if child.stderr else ""
        time.sleep(0.005)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    deadline = time.monotonic() + 10
    while any(tmp_dir.glob("quantize-*")) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(tmp_dir.glob("quantize-*")), "the quantizer outlived its parent"
    library = Library.open(store)
    try:
        assert library.list_models() == []
        report = library.verify()
        assert report.ok, report
        # The killed process's lease protects what it had staged until the lease expires (1 h).
        with library.db.write() as conn:
            ModelsCatalog.purge_expired_leases(conn, now=time.time() + DEFAULT_LEASE_TTL + 1)
        library.prune(grace_seconds=0)
        assert [p for p in (store / "blobs").rglob("*") if p.is_file()] == []
    finally:
        library.close()
    assert (ROOT / "runner" / "quantize.py").exists()
