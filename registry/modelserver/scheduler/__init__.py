"""Runner processes for loaded models: spawn, share (parallel slots), keep alive, evict, replace."""

from registry.modelserver.scheduler.kv_memory import ModelShape
from registry.modelserver.scheduler.process import CRASHED_MESSAGE, RunnerProcess
from registry.modelserver.scheduler.runners import ProcessRunners, Runner, RunnerFactory
from registry.modelserver.scheduler.scheduler import (
    BUSY_MESSAGE,
    Lease,
    LoadedModel,
    Scheduler,
    SchedulerConfig,
)
from registry.modelserver.scheduler.spec import KeepAlive, LoadSettings, ModelSpec

__all__ = [
    "BUSY_MESSAGE",
    "CRASHED_MESSAGE",
    "KeepAlive",
    "Lease",
    "LoadSettings",
    "LoadedModel",
    "ModelShape",
    "ModelSpec",
    "ProcessRunners",
    "Runner",
    "RunnerFactory",
    "RunnerProcess",
    "Scheduler",
    "SchedulerConfig",
]
