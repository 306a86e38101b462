"""Runner processes for loaded models: spawn, share (parallel slots), keep alive, evict, replace."""

from registry.scheduler.kv_memory import ModelShape
from registry.scheduler.process import CRASHED_MESSAGE, RunnerProcess
from registry.scheduler.scheduler import (
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
