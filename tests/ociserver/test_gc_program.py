"""The registry's side of the one mark-and-sweep (``registry.ociserver.gc`` over ``registry.store.gc``).

What the registry's program adds to the shared sweep: tombstones an interrupted run left are taken
over by the next real run (a dry run reports only what it would tombstone itself), bytes with no row
at all are orphans (their size unknown to the walk), and the server's periodic task counts what the
report says into its metrics.
"""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path
from typing import Any

import aiohttp

from registry.oci.digest import Digest
from registry.ociserver.gc import collect_garbage
from registry.ociserver.http.keys import STORE
from registry.store.catalog import RegistryGcQueries
from tests.support.registry_server import RunningRegistry, push_blob, start_registry

Http = aiohttp.ClientSession


async def test_tombstones_left_by_an_interrupted_run_are_finished_by_the_next(
    registry: RunningRegistry, http: Http
) -> None:
    store = registry.app[STORE]
    digest = Digest.parse_oci(await push_blob(http, registry.url, "t/r", b"left tombstoned"))
    await store.write(lambda c: RegistryGcQueries.tombstone_blobs(c, [digest]))  # then the run "died"
    dry = await collect_garbage(store, grace=3600, upload_max_age=3600, dry_run=True)
    assert dry.blobs_removed == [] and await store.backend.stat(digest) == len(b"left tombstoned")
    report = await collect_garbage(store, grace=3600, upload_max_age=3600)  # the grace spares every live row
    assert report.blobs_removed == [digest] and report.bytes_freed == len(b"left tombstoned")
    assert report.blobs_total is None and report.partials_removed == report.temp_files_removed == 0
    assert await store.backend.stat(digest) is None
    assert await store.read(lambda c: RegistryGcQueries.recorded_digests(c, [digest])) == set()


async def test_bytes_with_no_row_are_orphans_of_unknown_size(
    registry: RunningRegistry, tmp_path: Path
) -> None:
    store = registry.app[STORE]
    data = b"put, then the process died before its row"
    digest = Digest.parse_oci("sha256:" + hashlib.sha256(data).hexdigest())
    source = tmp_path / "interrupted"
    source.write_bytes(data)
    await store.backend.put_file(digest, source)
    dry = await collect_garbage(store, grace=3600, upload_max_age=3600, dry_run=True)
    assert (dry.orphan_files_removed, dry.bytes_freed) == (1, 0) and await store.backend.stat(digest) == len(
        data
    )
    report = await collect_garbage(store, grace=3600, upload_max_age=3600)
    assert (report.orphan_files_removed, report.bytes_freed, report.blobs_removed) == (1, 0, [])
    assert await store.backend.stat(digest) is None


async def _metric(http: Http, url: str, name: str) -> float:
    async with http.get(f"{url}/metrics") as r:
        text = await r.text()
    values = [line.split()[-1] for line in text.splitlines() if line.startswith(f"{name} ")]
    return float(values[0]) if values else 0.0


async def test_the_periodic_sweep_counts_its_report_into_the_metrics(make_settings: Any, http: Http) -> None:
    registry = await start_registry(make_settings(gc_interval=0.05, gc_grace=0.0))
    try:
        digest = await push_blob(http, registry.url, "p/r", b"swept by the server itself")
        for _ in range(600):
            if await _metric(http, registry.url, "registry_gc_blobs_removed_total") >= 1:
                break
            await asyncio.sleep(0.05)
        assert await _metric(http, registry.url, "registry_gc_blobs_removed_total") == 1
        assert await _metric(http, registry.url, "registry_gc_bytes_freed_total") == len(
            b"swept by the server itself"
        )
        assert await registry.app[STORE].backend.stat(Digest.parse_oci(digest)) is None
    finally:
        await registry.stop()
