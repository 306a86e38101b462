"""How much memory a runner's KV cache needs, and whether the machine has it.

The estimate follows llama.cpp's ``llama_kv_cache``: per layer, the K cache holds ``n_embd_k_gqa
= key_length * head_count_kv`` values per position and the V cache ``value_length *
head_count_kv``; the context holds ``num_ctx * parallel`` positions; each value takes the size of
the cache type (f16: 2 bytes). The shape comes from the GGUF's metadata (``<arch>.block_count``,
``embedding_length``, ``attention.head_count``, ``attention.head_count_kv``, ``attention.key_length``,
``attention.value_length``, ``context_length``). The machine's memory is what Linux says is
available (``MemAvailable``, and the cgroup's limit when there is one) plus what the runners
already loaded hold (the scheduler unloads them to make room).
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from registry.errors import InvalidInput
from registry.ggufmeta import read_gguf_header

__all__ = [
    "AUTO_PARALLEL_MAX",
    "KV_TYPE_BYTES",
    "ModelShape",
    "auto_parallel",
    "available_memory",
    "check_fits",
    "format_bytes",
    "kv_cache_bytes",
    "process_rss",
    "read_model_shape",
]

#: Bytes per cached value for llama.cpp's KV cache types (quantized types per 32-value block).
KV_TYPE_BYTES: dict[str, float] = {"f32": 4.0, "f16": 2.0, "bf16": 2.0, "q8_0": 34 / 32, "q4_0": 18 / 32}


@dataclass(frozen=True, slots=True)
class ModelShape:
    """The dimensions of a model that size its KV cache; 0 where the GGUF does not say."""

    n_layer: int
    n_ctx_train: int
    n_embd_k_gqa: int
    n_embd_v_gqa: int
    weights_bytes: int


def _int(kv: Mapping[str, Any], key: str, default: int = 0) -> int:
    value = kv.get(key)
    if isinstance(value, list):  # per-layer values (e.g. head_count_kv): size for the largest
        value = max((v for v in value if isinstance(v, int)), default=None)
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else default


def model_shape(kv: Mapping[str, Any], weights_bytes: int = 0) -> ModelShape:
    """The shape from GGUF key/values (as :func:`registry.ggufmeta.read_gguf_header` gives them)."""
    arch = kv.get("general.architecture")
    prefix = f"{arch}." if isinstance(arch, str) else ""
    n_embd = _int(kv, prefix + "embedding_length")
    n_head = _int(kv, prefix + "attention.head_count")
    n_head_kv = _int(kv, prefix + "attention.head_count_kv", n_head)
    head_k = _int(kv, prefix + "attention.key_length", n_embd // n_head if n_head else 0)
    head_v = _int(kv, prefix + "attention.value_length", head_k)
    return ModelShape(
        n_layer=_int(kv, prefix + "block_count"),
        n_ctx_train=_int(kv, prefix + "context_length"),
        n_embd_k_gqa=head_k * n_head_kv,
        n_embd_v_gqa=head_v * n_head_kv,
        weights_bytes=weights_bytes,
    )


def read_model_shape(path: Path) -> ModelShape:
    """The shape of the GGUF at ``path`` (reads its header only; run it in a thread).

    Raises:
        InvalidWeights: the file is not a readable GGUF.
        OSError: the file cannot be opened.
    """
    header = read_gguf_header(path)
    return model_shape(header.kv, header.file_size)


def kv_cache_bytes(shape: ModelShape, n_ctx_total: int, kv_type: str = "f16") -> int:
    """Bytes of the KV cache for ``n_ctx_total`` positions (``num_ctx * parallel``)."""
    per_value = KV_TYPE_BYTES.get(kv_type, 2.0)
    return int(shape.n_layer * n_ctx_total * (shape.n_embd_k_gqa + shape.n_embd_v_gqa) * per_value)


def format_bytes(n: float) -> str:
    """``1.5 GiB``, ``512.0 MiB`` (binary units, one decimal)."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(n) < 1024 or unit == "PiB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return f"{n:.1f} PiB"  # pragma: no cover - the loop always returns


def _meminfo_available(meminfo: Path) -> int | None:
    with contextlib.suppress(OSError, ValueError):
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    return None


def _cgroup_available(cgroup_root: Path) -> int | None:
    """``memory.max - memory.current`` of this process's cgroup (v2), when it has a limit."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        relative = Path("/proc/self/cgroup").read_text().strip().splitlines()[0].split("::", 1)[1]
        group = cgroup_root / relative.lstrip("/")
        limit = (group / "memory.max").read_text().strip()
        if limit != "max":
            return max(0, int(limit) - int((group / "memory.current").read_text()))
    return None


def available_memory(
    *,
    meminfo: Path = Path("/proc/meminfo"),
    cgroup_root: Path = Path("/sys/fs/cgroup"),
    limit: int | None = None,
) -> int | None:
    """Bytes of memory a new runner may use now, or None when nothing says.

    ``limit`` (the ``OLLAMA_PY_MEMORY_LIMIT`` setting) caps what the system reports; with
    no system figure, it is the answer."""
    values = [v for v in (_meminfo_available(meminfo), _cgroup_available(cgroup_root)) if v is not None]
    if limit is not None:
        values.append(max(0, limit))
    return min(values) if values else None


def process_rss(pid: int) -> int:
    """The resident set size of process ``pid`` in bytes (0 when it is gone)."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


#: The most slots :func:`auto_parallel` picks (Ollama's automatic ``OLLAMA_NUM_PARALLEL``, 0.2-0.5).
AUTO_PARALLEL_MAX = 4


def auto_parallel(shape: ModelShape, *, num_ctx: int, kv_type: str, available: int | None) -> int:
    """The slots for ``OLLAMA_NUM_PARALLEL`` unset: the most, up to :data:`AUTO_PARALLEL_MAX`,
    whose KV cache (``num_ctx`` positions per slot) fits in ``available`` bytes next to the
    weights, which stay resident to decode at speed (memory-mapped or not); 1 where even two
    slots do not fit. Unknown memory (None) gets :data:`AUTO_PARALLEL_MAX`.

    Ollama's old rule tried 4, then 1; this also takes 3 or 2 where 4 does not fit."""
    if available is None:
        return AUTO_PARALLEL_MAX
    for parallel in range(AUTO_PARALLEL_MAX, 1, -1):
        if shape.weights_bytes + kv_cache_bytes(shape, num_ctx * parallel, kv_type) <= available:
            return parallel
    return 1


def check_fits(
    shape: ModelShape, *, num_ctx: int, parallel: int, kv_type: str, use_mmap: bool, available: int | None
) -> None:
    """Refuse a context whose KV cache (plus the weights, when not memory-mapped) cannot fit in
    ``available`` bytes (None: unknown, nothing is refused).

    Raises:
        InvalidInput: naming the context size, what it needs and what is available.
    """
    if available is None:
        return
    kv = kv_cache_bytes(shape, num_ctx * parallel, kv_type)
    needed = kv + (0 if use_mmap else shape.weights_bytes)
    if needed <= available:
        return
    per_slot = f" x {parallel} parallel" if parallel > 1 else ""
    raise InvalidInput(
        f"model requires more system memory ({format_bytes(needed)}) than is available "
        f"({format_bytes(available)}): the KV cache for num_ctx {num_ctx}{per_slot} needs "
        f"{format_bytes(kv)} ({shape.n_layer} layers, {kv_type}); use a smaller num_ctx"
    )
