"""What the scheduler is asked to load: typed values, parsed once by the API at its edge.

A :class:`ModelSpec` names the model (:class:`~registry.oci.name.ModelName`, the manifest's
:class:`~registry.oci.digest.Digest`), its files (:class:`~pathlib.Path` of the weights, adapters and
projectors), how a runner loads them (:class:`LoadSettings`) and how long the model stays loaded
after the request (:class:`KeepAlive`, or None when the request does not say). The runner's wire
form, :class:`runner.protocol.LoadOptions` (paths as strings), is made from it at the process edge
by :meth:`ModelSpec.load_options`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from registry.oci.digest import Digest
from registry.oci.name import ModelName
from runner.protocol import LoadOptions

__all__ = ["KeepAlive", "LoadSettings", "ModelSpec", "RunnerKey"]

#: The identity of a runner: its weights, adapters and projectors.
RunnerKey = tuple[Path, tuple[Path, ...], tuple[Path, ...]]


@dataclass(frozen=True, slots=True)
class KeepAlive:
    """How long a model stays loaded after its last request: ``seconds``, or forever (None).
    Zero unloads it as soon as the request ends."""

    seconds: float | None

    @property
    def unloads_now(self) -> bool:
        """True for zero: unload when the last request finishes (a load-only request unloads)."""
        return self.seconds == 0


@dataclass(frozen=True, slots=True)
class LoadSettings:
    """How a runner loads its files: :class:`runner.protocol.LoadOptions` less the file paths (same
    names, same defaults). A change in any of them needs a new runner. ``num_ctx`` is per slot."""

    num_ctx: int = 4096
    num_batch: int = 512
    num_thread: int = 0
    num_gpu: int = -1
    main_gpu: int = 0
    use_mmap: bool = True
    parallel: int = 1
    flash_attention: bool = False
    kv_cache_type: str = "f16"


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """What to load, how, for how long, and how to describe it in ``/api/ps``."""

    name: ModelName
    digest: Digest
    size: int
    details: dict[str, Any]
    weights: Path
    adapters: tuple[Path, ...] = ()
    projectors: tuple[Path, ...] = ()
    settings: LoadSettings = field(default_factory=LoadSettings)
    keep_alive: KeepAlive | None = None

    @property
    def key(self) -> RunnerKey:
        """The identity of a runner: weights, adapters and projectors."""
        return (self.weights, self.adapters, self.projectors)

    def loads_like(self, other: ModelSpec) -> bool:
        """Whether a runner started for ``other`` serves this spec (same files, same settings)."""
        return self.key == other.key and self.settings == other.settings

    def load_options(self) -> LoadOptions:
        """The runner's wire form of the files and settings."""
        return LoadOptions(
            model=str(self.weights),
            adapters=tuple(str(p) for p in self.adapters),
            projectors=tuple(str(p) for p in self.projectors),
            **asdict(self.settings),
        )
