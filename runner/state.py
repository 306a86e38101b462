"""The runner's state and model loading, kept free of aiohttp so that ``python -m runner`` can start
loading the model while the HTTP server's modules are still being imported."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from runner.protocol import HEALTH_ERROR, HEALTH_LOADING, HEALTH_OK, LoadOptions

if TYPE_CHECKING:
    from runner.engine import Engine
    from runner.engine_model import LoadedModel

__all__ = ["RunnerState", "load_engine"]


@dataclass
class RunnerState:
    """What the runner process knows about itself; owned by the app."""

    options: LoadOptions
    status: str = HEALTH_LOADING
    progress: float = 0.0
    error: str | None = None
    info: dict[str, Any] = field(default_factory=dict)
    model: LoadedModel | None = None
    engine: Engine | None = None


def load_engine(state: RunnerState, *, quiet: bool) -> None:
    """Load the model and start the engine (blocking; run it in a thread). Records failures in
    ``state`` rather than raising."""

    def progress(fraction: float) -> None:
        state.progress = fraction

    try:
        from runner.engine import Engine
        from runner.engine_model import LoadedModel

        model = LoadedModel(state.options, progress, quiet=quiet)
        state.model = model
        engine = Engine(model, state.options)
        engine.start()
        state.engine = engine
        state.info = model.info(engine.num_ctx, engine.parallel)
        state.progress = 1.0
        state.status = HEALTH_OK
    except Exception as err:  # reported through /health; the server kills us
        state.error = str(err) or type(err).__name__
        state.status = HEALTH_ERROR
