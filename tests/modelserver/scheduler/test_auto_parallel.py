"""Issue 17: the "auto" slot count and the settings that drive it (pure functions)."""

from __future__ import annotations

import pytest

from registry.config import load_settings
from registry.errors import InvalidInput
from registry.modelserver.scheduler.kv_memory import (
    ModelShape,
    auto_parallel,
    available_memory,
    kv_cache_bytes,
)

SHAPE = ModelShape(n_layer=2, n_ctx_train=4096, n_embd_k_gqa=32, n_embd_v_gqa=32, weights_bytes=1000)
PER_SLOT = kv_cache_bytes(SHAPE, 256)  # 2 layers x 256 positions x 64 values x 2 bytes = 64 KiB


@pytest.mark.parametrize(
    ("available", "expected"),
    [
        (None, 4),  # unknown memory: the most
        (10**12, 4),
        (1000 + 4 * PER_SLOT, 4),
        (1000 + 4 * PER_SLOT - 1, 3),
        (1000 + 2 * PER_SLOT, 2),
        (1000 + 2 * PER_SLOT - 1, 1),
        (0, 1),  # short: 1 (whether even that fits is check_fits' question)
    ],
)
def test_auto_parallel_takes_the_most_slots_that_fit_next_to_the_weights(
    available: int | None, expected: int
) -> None:
    assert auto_parallel(SHAPE, num_ctx=256, kv_type="f16", available=available) == expected


def test_the_memory_limit_caps_what_the_system_reports() -> None:
    system = available_memory()
    assert available_memory(limit=12345) == (12345 if system is None else min(system, 12345))


def test_num_parallel_unset_or_zero_is_auto_and_an_explicit_value_wins() -> None:
    assert load_settings({}).num_parallel == 0
    assert load_settings({"OLLAMA_NUM_PARALLEL": "0"}).num_parallel == 0
    assert load_settings({"OLLAMA_NUM_PARALLEL": "3"}).num_parallel == 3


@pytest.mark.parametrize(
    ("text", "value"),
    [("1048576", 1 << 20), ("512MiB", 512 << 20), ("2 GB", 2 * 10**9), ("1.5GiB", 3 << 29), ("", None)],
)
def test_memory_limit_sizes(text: str, value: int | None) -> None:
    assert load_settings({"OLLAMA_PY_MEMORY_LIMIT": text}).memory_limit == value


def test_a_bad_memory_limit_names_the_variable() -> None:
    with pytest.raises(InvalidInput, match="OLLAMA_PY_MEMORY_LIMIT"):
        load_settings({"OLLAMA_PY_MEMORY_LIMIT": "lots"})
