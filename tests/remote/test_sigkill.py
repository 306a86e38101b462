"""SIGKILL the pulling / pushing process at random moments; the next run resumes.

Resume is proven by counting the bytes the upstream served (pull) or stored (push).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import signal
import sys
from pathlib import Path

import pytest

from registry.oci.name import ModelName
from registry.store.library import Library
from tests.remote.helpers import name_on, serve_model, weights
from tests.support.models import make_model
from tests.support.upstream import Upstream

ROOT = Path(__file__).resolve().parents[2]
KILLS = 3


async def _run_worker(action: str, store: Path, name: str, kill_at: int | None, part: int) -> int:
    """Run the worker; with ``kill_at``, SIGKILL it once a progress event reports that many bytes."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.remote.worker",
        action,
        str(store),
        name,
        str(part),
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    async for line in proc.stdout:
        event = json.loads(line)
        if kill_at is not None and event.get("total", 0) > 1 << 20 and event.get("completed", 0) >= kill_at:
            proc.send_signal(signal.SIGKILL)
            break
    _, err = await proc.communicate()
    if kill_at is None:
        assert proc.returncode == 0, err.decode()[-2000:]
    return proc.returncode or 0


@pytest.mark.slow
async def test_pull_survives_sigkill(tmp_path: Path, upstream: Upstream) -> None:
    size = 12 << 20
    data = serve_model(upstream, size=size)
    upstream.faults.send_delay = 0.02
    store = tmp_path / "store"
    Library.open(store).close()
    rng = random.Random(1234)
    killed = 0
    for fraction in sorted(rng.uniform(0.1, 0.9) for _ in range(KILLS)):
        if await _run_worker("pull", store, str(name_on(upstream)), int(size * fraction), 2 << 20) == -9:
            killed += 1
    await _run_worker("pull", store, str(name_on(upstream)), None, 2 << 20)
    served = upstream.counters.served[hashlib.sha256(data).hexdigest()]
    assert killed == KILLS
    # Each kill may lose at most one unsaved block plus one checkpoint per part in flight.
    assert served <= size + killed * 4 * (256 + 64) * 1024 + (1 << 20)
    library = Library.open(store)
    try:
        assert library.find_model(name_on(upstream)) is not None
        assert library.verify().ok
    finally:
        library.close()


@pytest.mark.slow
async def test_push_survives_sigkill(tmp_path: Path, upstream: Upstream) -> None:
    size = 8 << 20
    data = weights(size, seed=3)
    store = tmp_path / "store"
    library = Library.open(store)
    name = ModelName.parse(f"{upstream.host}/me/big:v1")
    make_model(library, str(name), weights=data)
    library.close()
    upstream.faults.send_delay = 0.02
    rng = random.Random(99)
    killed = 0
    for fraction in sorted(rng.uniform(0.1, 0.9) for _ in range(KILLS)):
        if await _run_worker("push", store, str(name), int(size * fraction), 1 << 20) == -9:
            killed += 1
    await _run_worker("push", store, str(name), None, 1 << 20)
    assert killed == KILLS
    assert upstream.blobs[hashlib.sha256(data).hexdigest()] == data
    # The registry kept what it received before each kill; the next run continued from its range.
    assert upstream.counters.received <= size + (1 << 20) + 64 * 1024


@pytest.mark.slow
async def test_two_processes_transfer_each_byte_once(tmp_path: Path, upstream: Upstream) -> None:
    size = 6 << 20
    data = serve_model(upstream, size=size)
    upstream.faults.send_delay = 0.005
    store = tmp_path / "store"
    Library.open(store).close()
    name = str(name_on(upstream))
    await asyncio.gather(
        _run_worker("pull", store, name, None, 1 << 20), _run_worker("pull", store, name, None, 1 << 20)
    )
    assert upstream.counters.served[hashlib.sha256(data).hexdigest()] == size
    library = Library.open(store)
    try:
        assert library.find_model(name_on(upstream)) is not None
    finally:
        library.close()
