"""Issue 17: ``OLLAMA_NUM_PARALLEL`` unset means "auto" -- as many slots (at most 4) as the
model's KV cache allows in the memory left, 1 where memory is short; an explicit value wins. The
memory left is capped by ``OLLAMA_PY_MEMORY_LIMIT`` (configuration, so a test can make memory
short). The chosen value shows in ``ollama-py ps`` and in the server's load log. Real ``serve``
and runner processes on loopback, the tiny GGUF."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from registry.modelserver.scheduler.kv_memory import kv_cache_bytes, read_model_shape
from registry.store.library import Library
from tests.support.gguf_models import add_gguf_model
from tests.support.serve_process import ServeProcess, cli, cli_env, free_port

NUM_CTX = 256


def _parallel_column(ps_stdout: str) -> str:
    header, *rows = (re.split(r"\s{2,}", line.strip()) for line in ps_stdout.splitlines())
    (row,) = [r for r in rows if r[0] == "tiny:latest"]
    return row[header.index("PARALLEL")]


def _slots_chosen(tmp_path: Path, tiny_gguf: Path, **env_extra: str) -> tuple[str, str]:
    """Serve the tiny model with ``env_extra``, run it once; (ps's PARALLEL, the server's log)."""
    library = Library.open(tmp_path / "store")
    add_gguf_model(library, "tiny", tiny_gguf, params={"num_predict": 2})
    library.close()
    env = cli_env(
        tmp_path / "store",
        tmp_path,
        OLLAMA_HOST=f"127.0.0.1:{free_port()}",
        OLLAMA_CONTEXT_LENGTH=str(NUM_CTX),
        **env_extra,
    )
    if "OLLAMA_NUM_PARALLEL" not in env_extra:
        env.pop("OLLAMA_NUM_PARALLEL", None)  # unset: auto
    server = ServeProcess(env)
    try:
        assert server.listening, server.text()
        ran = cli(env, "run", "tiny", "hello")
        assert ran.returncode == 0, ran.stderr
        ps = cli(env, "ps")
        assert ps.returncode == 0, ps.stderr
        return _parallel_column(ps.stdout), server.text()
    finally:
        server.stop()


def test_auto_picks_four_slots_for_a_tiny_model(tmp_path: Path, tiny_gguf: Path) -> None:
    chosen, log = _slots_chosen(tmp_path, tiny_gguf)
    assert chosen == "4"
    assert "parallel 4 (auto)" in log, log


def test_auto_picks_one_slot_when_memory_is_short(tmp_path: Path, tiny_gguf: Path) -> None:
    shape = read_model_shape(tiny_gguf)
    one_slot = shape.weights_bytes + kv_cache_bytes(shape, NUM_CTX)
    budget = one_slot + kv_cache_bytes(shape, NUM_CTX) // 2  # room for 1 slot, not for 2
    chosen, log = _slots_chosen(tmp_path, tiny_gguf, OLLAMA_PY_MEMORY_LIMIT=str(budget))
    assert chosen == "1"
    assert "parallel 1 (auto)" in log, log


@pytest.mark.parametrize("explicit", ["2", "1"])
def test_an_explicit_value_wins(tmp_path: Path, tiny_gguf: Path, explicit: str) -> None:
    chosen, log = _slots_chosen(tmp_path, tiny_gguf, OLLAMA_NUM_PARALLEL=explicit)
    assert chosen == explicit
    assert f"parallel {explicit} (OLLAMA_NUM_PARALLEL)" in log, log
