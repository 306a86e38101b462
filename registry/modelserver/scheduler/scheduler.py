"""The scheduler: which models are loaded, who may use them, and when they go away.

Mirrors Ollama's ``server/sched.go``:

* one runner per loaded model (keyed by its weights, adapters and projectors), started on first use;
* ``num_parallel`` slots per runner; a request takes a slot for its whole generation. 0 (unset) is
  "auto", Ollama's old rule: as many slots (at most 4) as the model's KV cache allows in the memory
  left next to its weights, 1 where memory is short (:meth:`Scheduler.with_parallel`);
* a bounded number of *waiting* requests (``max_queue``): beyond it, :class:`ServerBusy` (503).
  Better than Ollama, the bound also covers requests waiting for a busy runner's slot, which
  Ollama queues without limit inside the runner;
* keep_alive per model: from the request's spec when given, else the default; 0 unloads when the
  last request finishes, forever (a negative request value) keeps it loaded;
* at most ``max_loaded`` runners: the least recently used idle one is evicted (we wait for one to
  become idle when all are busy);
* a runner that died, or whose load settings differ from the request's, is replaced.

Runners come from a :class:`~registry.modelserver.scheduler.runners.RunnerFactory` (by default
:class:`~registry.modelserver.scheduler.runners.ProcessRunners`, real ``python -m runner``
processes; tests may pass an in-process fake).

All state lives on the :class:`Scheduler` object (owned by the aiohttp app). Coroutine-safe within
one event loop; not thread-safe.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from registry.errors import ServerBusy
from registry.modelserver.scheduler.kv_memory import (
    ModelShape,
    auto_parallel,
    available_memory,
    check_fits,
    process_rss,
    read_model_shape,
)
from registry.modelserver.scheduler.runners import ProcessRunners, Runner, RunnerFactory
from registry.modelserver.scheduler.spec import ModelSpec, RunnerKey

__all__ = ["BUSY_MESSAGE", "Lease", "LoadedModel", "Scheduler", "SchedulerConfig"]

BUSY_MESSAGE = "server busy, please try again.  maximum pending requests exceeded"

log = logging.getLogger(__name__)

#: How many models' shapes (read from their GGUF headers) the scheduler remembers.
_SHAPE_CACHE_SIZE = 64


@dataclass(frozen=True, slots=True)
class SchedulerConfig:
    """Limits and defaults (from ``Settings``). ``num_parallel`` 0 is "auto"; ``memory_limit``
    caps the memory the system reports as available (None: no cap)."""

    num_parallel: int = 0
    memory_limit: int | None = None
    max_loaded_models: int = 3
    max_queue: int = 512
    keep_alive: float | None = 300.0
    load_timeout: float = 300.0


@dataclass(eq=False)
class LoadedModel:
    """A runner and its bookkeeping."""

    spec: ModelSpec
    runner: Runner
    slots: asyncio.Semaphore
    keep_alive: float | None
    refcount: int = 0
    last_used: float = field(default_factory=time.monotonic)
    expires_at: float | None = None  # wall clock; None = forever (or in use)
    timer: asyncio.TimerHandle | None = None
    dead: bool = False


@dataclass(eq=False)
class Lease:
    """A slot on a loaded model for one request. ``load_duration`` is the time spent waiting for
    the model (load and queue), in seconds."""

    model: LoadedModel
    load_duration: float

    @property
    def runner(self) -> Runner:
        """The runner to send the request to."""
        return self.model.runner


class Scheduler:
    """Loads, shares and unloads runners. Close with :meth:`close`.

    ``runners`` starts them (default: :class:`ProcessRunners`, real runner processes)."""

    def __init__(self, config: SchedulerConfig, runners: RunnerFactory | None = None) -> None:
        self.config = config
        self.runners: RunnerFactory = runners if runners is not None else ProcessRunners()
        self._loaded: dict[RunnerKey, LoadedModel] = {}
        self._waiting = 0
        self._load_lock = asyncio.Lock()
        self._changed = asyncio.Condition()
        self._tasks: set[asyncio.Task[None]] = set()
        self._shapes: dict[Path, ModelShape] = {}

    @property
    def pending(self) -> int:
        """Requests waiting for a model to load or for a free slot."""
        return self._waiting

    def loaded(self) -> list[LoadedModel]:
        """The loaded models (a snapshot)."""
        return list(self._loaded.values())

    # -- memory ---------------------------------------------------------------------------------

    async def model_shape(self, weights: Path) -> ModelShape:
        """The dimensions of the GGUF at ``weights`` (its header is read once: blobs never change).

        Raises:
            InvalidWeights: not a readable GGUF. OSError: the file cannot be opened.
        """
        shape = self._shapes.get(weights)
        if shape is None:
            shape = await asyncio.to_thread(read_model_shape, weights)
            if len(self._shapes) >= _SHAPE_CACHE_SIZE:
                self._shapes.pop(next(iter(self._shapes)))
            self._shapes[weights] = shape
        return shape

    def available_memory(self) -> int | None:
        """Bytes a new runner may use now (the system's figure, capped by ``memory_limit``)."""
        return available_memory(limit=self.config.memory_limit)

    def with_parallel(self, spec: ModelSpec, shape: ModelShape | None) -> ModelSpec:
        """``spec`` with its slots decided: an explicit ``num_parallel`` wins; "auto" reuses the
        slots of a loaded runner with the same files and other settings, else picks
        :func:`~registry.modelserver.scheduler.kv_memory.auto_parallel` for the memory left now
        (1 when the GGUF's shape is unknown)."""
        settings = spec.settings
        if self.config.num_parallel > 0:
            parallel = self.config.num_parallel
        else:
            parallel = next(
                (
                    m.spec.settings.parallel
                    for m in self._loaded.values()
                    if m.spec.key == spec.key
                    and not m.dead
                    and m.runner.alive
                    and dataclasses.replace(m.spec.settings, parallel=settings.parallel) == settings
                ),
                0,
            )
            if parallel == 0:
                parallel = (
                    1
                    if shape is None
                    else auto_parallel(
                        shape,
                        num_ctx=settings.num_ctx,
                        kv_type=settings.kv_cache_type,
                        available=self.available_memory(),
                    )
                )
        return dataclasses.replace(spec, settings=dataclasses.replace(settings, parallel=parallel))

    def check_memory(self, spec: ModelSpec, shape: ModelShape) -> None:
        """Refuse a load whose KV cache cannot fit in the memory available now plus what the
        loaded runners hold (they are unloaded to make room). A runner already loaded with exactly
        these files and settings needs nothing new.

        Raises:
            InvalidInput: what the context needs and what is available.
        """
        if any(m.spec.loads_like(spec) and not m.dead and m.runner.alive for m in self._loaded.values()):
            return
        available = self.available_memory()
        if available is not None:
            available += sum(process_rss(m.runner.pid) for m in self._loaded.values() if m.runner.alive)
        settings = spec.settings
        check_fits(
            shape,
            num_ctx=settings.num_ctx,
            parallel=max(1, settings.parallel),
            kv_type=settings.kv_cache_type,
            use_mmap=settings.use_mmap,
            available=available,
        )

    # -- acquire / release ----------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def lease(self, spec: ModelSpec) -> AsyncIterator[Lease]:
        """A slot on ``spec``'s runner for the duration of the ``async with`` block.

        ``spec.keep_alive`` updates the model's session when given (None keeps it).
        Leave the block with :meth:`mark_dead` called when the runner failed mid-request.

        Raises:
            ServerBusy: ``max_queue`` requests are already waiting.
            RunnerError: the model could not be loaded.
        """
        lease = await self._acquire(spec)
        try:
            yield lease
        finally:
            await self._release(lease.model)

    async def _acquire(self, spec: ModelSpec) -> Lease:
        if self._waiting >= self.config.max_queue:
            raise ServerBusy(BUSY_MESSAGE)
        started = time.perf_counter()
        self._waiting += 1
        try:
            model = await self._loaded_model(spec)
            model.refcount += 1
            if spec.keep_alive is not None:
                model.keep_alive = spec.keep_alive.seconds
            self._cancel_timer(model)
            try:
                await model.slots.acquire()
            except BaseException:
                await self._release(model, slot_held=False)
                raise
        finally:
            self._waiting -= 1
        return Lease(model, time.perf_counter() - started)

    async def _release(self, model: LoadedModel, *, slot_held: bool = True) -> None:
        if slot_held:
            model.slots.release()
        model.refcount -= 1
        model.last_used = time.monotonic()
        if model.refcount == 0:
            if model.dead or model.keep_alive == 0:
                await self._unload(model)
            elif model.keep_alive is not None:
                model.expires_at = time.time() + model.keep_alive
                model.timer = asyncio.get_running_loop().call_later(
                    model.keep_alive, self._spawn_expire, model
                )
        async with self._changed:
            self._changed.notify_all()

    async def _loaded_model(self, spec: ModelSpec) -> LoadedModel:
        while True:
            model = self._loaded.get(spec.key)
            if model is not None and not model.dead and model.spec.loads_like(spec) and model.runner.alive:
                if model.refcount > 0 or await model.runner.ping():
                    return model
                model.dead = True  # idle and not answering (e.g. killed): replace it, as Ollama's Ping does
            async with self._load_lock:
                model = self._loaded.get(spec.key)
                if model is not None and (
                    model.dead or not model.spec.loads_like(spec) or not model.runner.alive
                ):
                    await self._wait_idle(model)
                    await self._unload(model)
                    continue
                if model is not None:
                    continue
                await self._make_room()
                return await self._start(spec)

    async def _wait_idle(self, model: LoadedModel) -> None:
        model.dead = True  # no new requests; in-flight ones finish (or already failed)
        async with self._changed:
            await self._changed.wait_for(lambda: model.refcount == 0)

    async def _make_room(self) -> None:
        while len(self._loaded) >= self.config.max_loaded_models:
            idle = [m for m in self._loaded.values() if m.refcount == 0]
            if idle:
                await self._unload(min(idle, key=lambda m: m.last_used))
                continue
            async with self._changed:
                await self._changed.wait()

    async def _start(self, spec: ModelSpec) -> LoadedModel:
        runner = await self.runners.start(spec)
        try:
            await runner.wait_ready(self.config.load_timeout)
        except BaseException:
            await runner.stop()
            raise
        model = LoadedModel(
            spec=spec,
            runner=runner,
            slots=asyncio.Semaphore(max(1, spec.settings.parallel)),
            keep_alive=self.config.keep_alive,
        )
        self._loaded[spec.key] = model
        how = "OLLAMA_NUM_PARALLEL" if self.config.num_parallel > 0 else "auto"
        log.info(
            "loaded %s: num_ctx %d per slot, parallel %d (%s)",
            spec.name.display_shortest,
            spec.settings.num_ctx,
            spec.settings.parallel,
            how,
        )
        return model

    # -- unloading ------------------------------------------------------------------------------

    def _cancel_timer(self, model: LoadedModel) -> None:
        if model.timer is not None:
            model.timer.cancel()
            model.timer = None
        model.expires_at = None

    def _spawn_expire(self, model: LoadedModel) -> None:
        task = asyncio.get_running_loop().create_task(self._expire(model))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _expire(self, model: LoadedModel) -> None:
        if model.refcount == 0 and self._loaded.get(model.spec.key) is model:
            await self._unload(model)

    async def _unload(self, model: LoadedModel) -> None:
        self._cancel_timer(model)
        if self._loaded.get(model.spec.key) is model:
            del self._loaded[model.spec.key]
        await model.runner.stop()
        async with self._changed:
            self._changed.notify_all()

    def mark_dead(self, model: LoadedModel) -> None:
        """The runner failed: stop handing it out; it is replaced on the next request."""
        model.dead = True

    async def expire(self, weights: Path) -> bool:
        """Unload the model whose weights are ``weights`` as soon as it is idle (keep_alive 0).
        Returns whether it was loaded."""
        found = False
        for model in list(self._loaded.values()):
            if model.spec.weights == weights:
                found = True
                model.keep_alive = 0
                if model.refcount == 0:
                    await self._unload(model)
        return found

    def running(self) -> list[dict[str, Any]]:
        """``/api/ps`` entries, the latest expiry first."""
        from registry.store.library.model_info import rfc3339

        entries: list[dict[str, Any]] = []
        for model in self._loaded.values():
            if model.expires_at is not None:
                expires = model.expires_at
            elif model.keep_alive is None:
                expires = time.time() + 100 * 365 * 86400
            else:
                expires = time.time() + model.keep_alive
            entries.append(
                {
                    "name": model.spec.name.display_shortest,
                    "model": model.spec.name.display_shortest,
                    "size": model.spec.size,
                    "digest": model.spec.digest.hex,
                    "details": model.spec.details,
                    "expires_at": rfc3339(expires),
                    "size_vram": 0,
                    "context_length": int(model.runner.info.get("n_ctx", model.spec.settings.num_ctx)),
                    "parallel": model.spec.settings.parallel,
                    "_expires": expires,
                }
            )
        entries.sort(key=lambda e: e["_expires"], reverse=True)
        for entry in entries:
            del entry["_expires"]
        return entries

    async def close(self) -> None:
        """Kill every runner. Idempotent."""
        for model in list(self._loaded.values()):
            await self._unload(model)
