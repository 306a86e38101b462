"""The scheduler with a fake runner factory: sharing and slots, arrival order, keep-alive, LRU
eviction, the queue bound, replacement (changed settings, a dead or silent runner), failed loads,
and ``/api/ps``'s entries. No process, no model: only the scheduling."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from registry.errors import RunnerError, ServerBusy
from registry.modelserver.scheduler import (
    BUSY_MESSAGE,
    KeepAlive,
    LoadSettings,
    ModelSpec,
    ProcessRunners,
    RunnerFactory,
    Scheduler,
    SchedulerConfig,
)
from registry.oci.digest import Digest
from registry.oci.name import ModelName
from tests.modelserver.scheduler.fake_runner import FakeRunners

Make = Callable[..., tuple[Scheduler, FakeRunners]]


def spec(
    name: str, *, num_ctx: int = 64, parallel: int = 1, keep_alive: KeepAlive | None = None
) -> ModelSpec:
    """A spec for model ``name`` (its weights at ``/blobs/<name>``: the fake never opens them)."""
    return ModelSpec(
        name=ModelName.parse(name),
        digest=Digest(hashlib.sha256(name.encode()).hexdigest()),
        size=len(name),
        details={"family": "fake"},
        weights=Path("/blobs") / name,
        settings=LoadSettings(num_ctx=num_ctx, parallel=parallel),
        keep_alive=keep_alive,
    )


@pytest.fixture
async def make() -> AsyncIterator[Make]:
    """``make(**config)`` -> a scheduler over a fresh fake factory (closed after the test)."""
    made: list[Scheduler] = []

    def factory(**config: Any) -> tuple[Scheduler, FakeRunners]:
        runners = FakeRunners()
        factory_seam: RunnerFactory = runners
        scheduler = Scheduler(SchedulerConfig(**config), factory_seam)
        made.append(scheduler)
        return scheduler, runners

    yield factory
    for scheduler in made:
        await scheduler.close()


async def wait_for(predicate: Callable[[], bool], timeout: float = 30.0) -> None:
    """Poll until ``predicate()`` (fails the test after ``timeout`` seconds)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        assert loop.time() < deadline, "condition not reached"
        await asyncio.sleep(0.005)


async def lease_once(scheduler: Scheduler, model: ModelSpec) -> None:
    """Take a slot on ``model`` and give it back."""
    async with scheduler.lease(model):
        pass


def test_the_default_factory_spawns_runner_processes() -> None:
    assert isinstance(Scheduler(SchedulerConfig()).runners, ProcessRunners)


async def test_leases_share_one_runner(make: Make) -> None:
    scheduler, runners = make()
    await lease_once(scheduler, spec("a"))
    async with scheduler.lease(spec("a")) as lease:
        assert lease.runner is runners.started[0]
    assert len(runners.started) == 1 and len(scheduler.loaded()) == 1


async def test_concurrent_first_requests_load_once(make: Make) -> None:
    scheduler, runners = make()
    runners.loading.clear()
    tasks = [asyncio.ensure_future(lease_once(scheduler, spec("a"))) for _ in range(3)]
    await wait_for(lambda: scheduler.pending == 3)
    runners.loading.set()
    await asyncio.gather(*tasks)
    assert len(runners.started) == 1


async def test_parallel_slots_bound_concurrent_requests(make: Make) -> None:
    scheduler, runners = make()
    model = spec("a", parallel=2)
    async with contextlib.AsyncExitStack() as stack:
        first = await stack.enter_async_context(scheduler.lease(model))
        await stack.enter_async_context(scheduler.lease(model))
        third = asyncio.ensure_future(lease_once(scheduler, model))
        await wait_for(lambda: scheduler.pending == 1)
        assert not third.done() and first.model.refcount == 3
    await asyncio.wait_for(third, 30)
    assert scheduler.pending == 0 and len(runners.started) == 1


async def test_waiting_requests_get_the_slot_in_arrival_order(make: Make) -> None:
    scheduler, _ = make()
    model = spec("a")
    order: list[int] = []

    async def one(i: int) -> None:
        async with scheduler.lease(model):
            order.append(i)

    async with scheduler.lease(model):
        tasks = []
        for i in range(4):
            tasks.append(asyncio.ensure_future(one(i)))
            await wait_for(lambda n=i + 1: scheduler.pending == n)  # type: ignore[misc]
    await asyncio.gather(*tasks)
    assert order == [0, 1, 2, 3]


async def test_keep_alive_zero_unloads_when_the_last_request_ends(make: Make) -> None:
    scheduler, runners = make()
    model = spec("a", parallel=2, keep_alive=KeepAlive(0))
    async with scheduler.lease(model):
        await lease_once(scheduler, model)  # another request still holds it
        assert scheduler.loaded() and not runners.started[0].stopped
    assert scheduler.loaded() == [] and runners.started[0].stopped


async def test_keep_alive_expiry_unloads_the_idle_model(make: Make) -> None:
    scheduler, runners = make()
    await lease_once(scheduler, spec("a", keep_alive=KeepAlive(0.2)))
    assert [e["name"] for e in scheduler.running()] == ["a:latest"]
    await wait_for(lambda: not scheduler.loaded())
    assert runners.started[0].stopped


async def test_a_request_in_flight_keeps_the_model_past_its_keep_alive(make: Make) -> None:
    scheduler, runners = make()
    model = spec("a", parallel=2, keep_alive=KeepAlive(0.01))
    async with scheduler.lease(model):
        await lease_once(scheduler, model)  # its release starts no timer: a request still holds it
        await asyncio.sleep(0.05)
        assert scheduler.loaded() and not runners.started[0].stopped
    await wait_for(lambda: not scheduler.loaded())


async def test_forever_keep_alive_and_a_request_without_one(make: Make) -> None:
    scheduler, _ = make(keep_alive=300.0)
    await lease_once(scheduler, spec("a", keep_alive=KeepAlive(None)))
    await lease_once(scheduler, spec("a"))  # no keep_alive: the model keeps its session
    (entry,) = scheduler.running()
    assert entry["expires_at"] > "2100"
    assert scheduler.loaded()[0].keep_alive is None and scheduler.loaded()[0].timer is None


async def test_least_recently_used_idle_model_is_evicted(make: Make) -> None:
    scheduler, runners = make(max_loaded_models=2)
    for name in ("a", "b", "a", "c"):
        await lease_once(scheduler, spec(name))
    assert sorted(e["name"] for e in scheduler.running()) == ["a:latest", "c:latest"]
    stopped = [r.spec.name.model for r in runners.started if r.stopped]
    assert stopped == ["b"]


async def test_eviction_waits_for_a_busy_model(make: Make) -> None:
    scheduler, runners = make(max_loaded_models=1)
    async with scheduler.lease(spec("a")):
        other = asyncio.ensure_future(lease_once(scheduler, spec("b")))
        await wait_for(lambda: scheduler.pending == 1)
        assert not runners.started[0].stopped and len(runners.started) == 1
    await asyncio.wait_for(other, 30)
    assert runners.started[0].stopped and [e["name"] for e in scheduler.running()] == ["b:latest"]


async def test_a_full_queue_refuses_with_server_busy(make: Make) -> None:
    scheduler, _ = make(max_queue=1)
    model = spec("a")
    async with scheduler.lease(model):
        waiting = asyncio.ensure_future(lease_once(scheduler, model))
        await wait_for(lambda: scheduler.pending == 1)
        with pytest.raises(ServerBusy, match=BUSY_MESSAGE.replace(".", r"\.")):
            await lease_once(scheduler, model)
    await asyncio.wait_for(waiting, 30)
    assert scheduler.pending == 0


async def test_changed_settings_replace_the_runner(make: Make) -> None:
    scheduler, runners = make()
    await lease_once(scheduler, spec("a", num_ctx=64))
    await lease_once(scheduler, spec("a", num_ctx=128))
    assert [r.stopped for r in runners.started] == [True, False]
    (entry,) = scheduler.running()
    assert entry["context_length"] == 128


async def test_a_replacement_waits_for_requests_in_flight(make: Make) -> None:
    scheduler, runners = make()
    async with scheduler.lease(spec("a", num_ctx=64)):
        bigger = asyncio.ensure_future(lease_once(scheduler, spec("a", num_ctx=128)))
        await wait_for(lambda: scheduler.loaded()[0].dead)
        assert not runners.started[0].stopped and not bigger.done()
    await asyncio.wait_for(bigger, 30)
    assert [r.stopped for r in runners.started] == [True, False]


async def test_a_dead_runner_is_replaced(make: Make) -> None:
    scheduler, runners = make()
    await lease_once(scheduler, spec("a"))
    runners.started[0].kill()
    async with scheduler.lease(spec("a")) as lease:
        assert lease.runner is runners.started[1]
    assert runners.started[0].stopped


async def test_an_idle_runner_that_does_not_answer_is_replaced(make: Make) -> None:
    scheduler, runners = make()
    await lease_once(scheduler, spec("a"))
    runners.started[0].answers_ping = False
    await lease_once(scheduler, spec("a"))
    assert len(runners.started) == 2 and runners.started[0].stopped


async def test_a_failed_load_stops_the_runner_and_raises(make: Make) -> None:
    scheduler, runners = make()
    runners.fail_loads = True
    with pytest.raises(RunnerError, match="unable to load model"):
        await lease_once(scheduler, spec("a"))
    assert scheduler.loaded() == [] and scheduler.pending == 0 and runners.started[0].stopped
    runners.fail_loads = False
    await lease_once(scheduler, spec("a"))
    assert len(scheduler.loaded()) == 1


async def test_a_runner_marked_dead_is_unloaded_when_released(make: Make) -> None:
    scheduler, runners = make()
    async with scheduler.lease(spec("a")) as lease:
        scheduler.mark_dead(lease.model)
    assert scheduler.loaded() == [] and runners.started[0].stopped


async def test_expire_unloads_the_model_with_those_weights(make: Make) -> None:
    scheduler, runners = make()
    await lease_once(scheduler, spec("a"))
    assert not await scheduler.expire(Path("/blobs/b"))
    assert await scheduler.expire(Path("/blobs/a"))
    assert scheduler.loaded() == [] and runners.started[0].stopped


async def test_running_describes_each_model_from_its_spec(make: Make) -> None:
    scheduler, _ = make()
    model = spec("a", num_ctx=96)
    await lease_once(scheduler, model)
    (entry,) = scheduler.running()
    assert entry["name"] == entry["model"] == "a:latest"
    assert entry["digest"] == model.digest.hex and entry["size"] == model.size
    assert entry["details"] == {"family": "fake"} and entry["context_length"] == 96


async def test_close_stops_every_runner(make: Make) -> None:
    scheduler, runners = make(max_loaded_models=3)
    for name in ("a", "b", "c"):
        await lease_once(scheduler, spec(name))
    await scheduler.close()
    assert scheduler.loaded() == [] and all(r.stopped for r in runners.started)
