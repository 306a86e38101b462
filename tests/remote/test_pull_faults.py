"""Pull against an upstream that misbehaves: drops, stalls, 500s, ignored Range, lies.

Every case runs twice: with bodies spliced from the socket into the file (``zero_copy``, the default
on Linux) and read through aiohttp."""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import replace

import pytest

from registry.errors import DigestMismatch, DiskFull, TransferError
from registry.oci.digest import sha256_of
from registry.remote.options import TransferOptions
from registry.store.library import Library
from tests.remote.helpers import FAST, name_on, pull_all, serve_model
from tests.support.upstream import Upstream


@pytest.fixture(params=[True, False], ids=["splice", "aiohttp"])
def fast(request: pytest.FixtureRequest) -> TransferOptions:
    """The fast test options, with the zero-copy receive on or off."""
    return replace(FAST, zero_copy=request.param)


def _served(upstream: Upstream, data: bytes) -> int:
    return upstream.counters.served[hashlib.sha256(data).hexdigest()]


async def test_dropped_connections_resume_mid_part(
    library: Library, upstream: Upstream, fast: TransferOptions
) -> None:
    data = serve_model(upstream, size=2 << 20)
    upstream.faults.drop_after, upstream.faults.drop_times = 100_000, 3
    await pull_all(library, name_on(upstream), replace(fast, part_size=1 << 20))
    assert library.has_blob(sha256_of(data))
    # Each drop costs at most what was in flight, never a whole part again.
    assert _served(upstream, data) < len(data) + 3 * 200_000


async def test_stall_reconnects(library: Library, upstream: Upstream, fast: TransferOptions) -> None:
    data = serve_model(upstream, size=1 << 20)
    upstream.faults.stall_after, upstream.faults.stall_times = 200_000, 1
    await pull_all(library, name_on(upstream), replace(fast, stall_timeout=0.3, part_size=4 << 20))
    assert library.has_blob(sha256_of(data))


async def test_500s_are_retried(library: Library, upstream: Upstream, fast: TransferOptions) -> None:
    data = serve_model(upstream)
    upstream.faults.status_500_times = 3
    await pull_all(library, name_on(upstream), fast)
    assert library.has_blob(sha256_of(data))


async def test_retries_are_bounded(library: Library, upstream: Upstream, fast: TransferOptions) -> None:
    data = serve_model(upstream)
    upstream.faults.status_500_times = 1000
    with pytest.raises(TransferError, match="max retries exceeded"):
        await pull_all(library, name_on(upstream), replace(fast, max_retries=2))
    assert not library.has_blob(sha256_of(data))
    assert library.list_models() == []


async def test_server_ignoring_range(library: Library, upstream: Upstream, fast: TransferOptions) -> None:
    data = serve_model(upstream, size=1 << 20)
    upstream.faults.ignore_range = True
    upstream.faults.drop_after, upstream.faults.drop_times = 300_000, 1
    await pull_all(library, name_on(upstream), replace(fast, part_size=4 << 20))
    assert library.has_blob(sha256_of(data))
    assert library.verify().ok


async def test_wrong_offset_206_is_an_error(
    library: Library, upstream: Upstream, fast: TransferOptions
) -> None:
    serve_model(upstream)
    upstream.faults.wrong_offset = True
    with pytest.raises(TransferError, match="asked for bytes from"):
        await pull_all(library, name_on(upstream), fast)
    assert library.list_models() == []


async def test_wrong_bytes_commit_nothing(
    library: Library, upstream: Upstream, fast: TransferOptions
) -> None:
    data = serve_model(upstream)
    upstream.faults.wrong_bytes, upstream.faults.wrong_bytes_hex = True, sha256_of(data).hex
    with pytest.raises(DigestMismatch, match=f"digest mismatch: expected {sha256_of(data)}"):
        await pull_all(library, name_on(upstream), fast)
    assert not library.has_blob(sha256_of(data))
    assert library.list_models() == []
    assert not library.layout.partial_path(sha256_of(data)).exists()
    # The next pull from an honest server starts over and succeeds.
    upstream.faults.wrong_bytes = False
    await pull_all(library, name_on(upstream), fast)
    assert library.has_blob(sha256_of(data))


async def test_interrupted_pull_resumes_from_saved_parts(
    library: Library, upstream: Upstream, fast: TransferOptions
) -> None:
    data = serve_model(upstream, size=2 << 20)
    upstream.faults.drop_after, upstream.faults.drop_times = 1_200_000, 1
    with pytest.raises(TransferError):
        await pull_all(library, name_on(upstream), replace(fast, part_size=4 << 20, max_retries=0))
    first = _served(upstream, data)
    assert 0 < first < len(data)
    assert library.list_models() == []
    await pull_all(library, name_on(upstream), replace(fast, part_size=4 << 20))
    assert _served(upstream, data) <= len(data) + (1 << 20)  # only a checkpoint's worth again
    assert library.has_blob(sha256_of(data))


async def test_full_disk_is_a_clear_error_and_keeps_state(
    library: Library, upstream: Upstream, fast: TransferOptions
) -> None:
    data = serve_model(upstream, size=1 << 20)
    digest = sha256_of(data)
    # A real ENOSPC from the kernel: the partial file is /dev/full (a valid state keeps it open).
    partial = library.partial(digest, len(data))
    partial.open()
    partial.save_state({"boot_id": "x", "parts": [[0, len(data), 0, 0]]})
    partial.close()
    partial.path.unlink()
    partial.path.symlink_to("/dev/full")
    with pytest.raises(DiskFull, match="no space left"):
        await pull_all(library, name_on(upstream), fast)
    assert library.list_models() == []
    assert partial.state_path.exists()
    partial.path.unlink()


async def test_cancelled_pull_stops_and_resumes(
    library: Library, upstream: Upstream, fast: TransferOptions
) -> None:
    data = serve_model(upstream, size=4 << 20)
    hexd = sha256_of(data).hex
    upstream.faults.send_delay = 0.005
    task = asyncio.create_task(pull_all(library, name_on(upstream), replace(fast, part_size=1 << 20)))
    while upstream.counters.served[hexd] < 1 << 20:
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    served = upstream.counters.served[hexd]
    await asyncio.sleep(0.2)
    assert upstream.counters.served[hexd] == served  # no part kept running after the cancel
    assert library.layout.partial_state_path(sha256_of(data)).exists()
    upstream.faults.send_delay = 0
    await pull_all(library, name_on(upstream), replace(fast, part_size=1 << 20))
    assert upstream.counters.served[hexd] <= len(data) + (1 << 20)
    assert library.has_blob(sha256_of(data))
