"""Runner processes for loaded models: spawn, share (parallel slots), keep alive, evict, replace."""

from registry.modelserver.scheduler.kv_memory import ModelShape
from registry.modelserver.scheduler.process import CRASHED_MESSAGE, RunnerProcess
from registry.modelserver.scheduler.scheduler import (
    BUSY_MESSAGE,
    UNSET,
    Lease,
    LoadedModel,
    ModelSpec,
    Scheduler,
    SchedulerConfig,
)

__all__ = [
    "BUSY_MESSAGE",
    "CRASHED_MESSAGE",
    "UNSET",
    "Lease",
    "LoadedModel",
    "ModelShape",
    "ModelSpec",
    "RunnerProcess",
    "Scheduler",
    "SchedulerConfig",
]
