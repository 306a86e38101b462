"""Issue 10 item 2: online GC at grace 0 racing many pushers never loses an acknowledged manifest.

Randomized and time-bounded (the seed is in every failure message): on SQLite, on PostgreSQL, and on
two replica processes sharing one moto S3 bucket and one PostgreSQL database (GC every 50 ms on the
replica that takes the pushes, reads from the other). Afterwards every manifest that got a 201, and
each of its blobs, is GETtable, byte-identical, from every replica.
"""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import pytest

from registry.ociserver.gc import collect_garbage
from registry.ociserver.http.keys import STORE
from registry.ociserver.settings import ServerSettings
from registry.ociserver.store import RegistryStore
from tests.support.postgres import fresh_database
from tests.support.registry_process import RegistryProcess
from tests.support.registry_server import start_registry
from tests.support.registry_workload import Workload
from tests.support.s3_server import moto_s3

pytestmark = pytest.mark.slow


async def _collect_until(store: RegistryStore, stop: asyncio.Event, seed: int) -> int:
    rng = random.Random(seed)
    runs = 0
    while not stop.is_set():
        await collect_garbage(store, grace=0, upload_max_age=3600)
        runs += 1
        await asyncio.sleep(rng.uniform(0.02, 0.08))  # about the "GC every 50 ms"
    return runs


async def _race_in_process(settings: ServerSettings) -> None:
    registry = await start_registry(settings)
    try:
        workload = Workload([registry.url], [registry.url], clients=8, seconds=5.0)
        stop = asyncio.Event()
        collector = asyncio.create_task(_collect_until(registry.app[STORE], stop, workload.seed))
        try:
            await workload.run()
        finally:
            stop.set()
            runs = await collector
        problems = await workload.verify()
        assert not problems, f"{workload.summary()}; {len(problems)} problems, e.g. {problems[:5]}"
        print(workload.summary(), f"{runs} GC runs")
        assert len(workload.acked) >= 5 and runs >= 5, (workload.summary(), runs)  # grace 0: many retries
    finally:
        await registry.stop()


async def test_gc_at_grace_zero_racing_pushes_loses_no_acknowledged_manifest_sqlite(
    settings: ServerSettings,
) -> None:
    await _race_in_process(settings)


@pytest.mark.postgres
async def test_gc_at_grace_zero_racing_pushes_loses_no_acknowledged_manifest_postgres(
    settings: ServerSettings, postgres_url: str
) -> None:
    from dataclasses import replace

    await _race_in_process(replace(settings, database_url=fresh_database(postgres_url)))


def _replica_config(tmp_path: Path, name: str, endpoint: str, db_url: str, gc: str) -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(
        f"""
[server]
tag_cache = "0"
[storage]
database_url = "{db_url}"
backend = "s3"
[storage.s3]
bucket = "shared"
endpoint_url = "{endpoint}"
access_key = "test"
secret_key = "test"
create_bucket = true
{gc}
"""
    )
    return path


@pytest.mark.postgres
async def test_two_replicas_on_s3_and_postgres_gc_every_50ms_lose_no_acknowledged_manifest(
    tmp_path: Path, postgres_url: str
) -> None:
    db_url = fresh_database(postgres_url)
    with moto_s3() as endpoint:
        gc = '[gc]\ninterval = "50ms"\ngrace = "0s"'
        config_a = _replica_config(tmp_path, "a", endpoint, db_url, gc)
        a = RegistryProcess("--root", str(tmp_path / "a"), "--config", str(config_a))
        try:
            config_b = _replica_config(tmp_path, "b", endpoint, db_url, "")
            b = RegistryProcess("--root", str(tmp_path / "b"), "--config", str(config_b))
            try:
                workload = Workload([a.url], [b.url], clients=8, seconds=6.0)
                await workload.run()
                problems = await workload.verify()
                assert not problems, f"{workload.summary()}; {len(problems)} problems, e.g. {problems[:5]}"
                print(workload.summary())
                assert len(workload.acked) >= 5, workload.summary()  # grace 0: many retries
            finally:
                b.stop()
        finally:
            a.stop()
