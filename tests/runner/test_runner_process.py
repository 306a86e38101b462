"""The runner as a real process on the tiny generated GGUF: protocol, batching slots, cancellation,
and no orphans when its parent dies."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from registry.errors import InvalidInput, RunnerError
from registry.modelserver.scheduler import RunnerProcess
from runner.protocol import CompletionRequest, LoadOptions


@pytest.fixture
async def runner(tiny_gguf: Path) -> AsyncIterator[RunnerProcess]:
    proc = await RunnerProcess.start(LoadOptions(model=str(tiny_gguf), num_ctx=256, parallel=2))
    try:
        await proc.wait_ready(60)
        yield proc
    finally:
        await proc.stop()


async def _complete(runner: RunnerProcess, **kwargs: Any) -> tuple[str, dict[str, Any]]:
    text, final = "", {}
    async for event in runner.completion(CompletionRequest(**kwargs)):
        if event.get("done"):
            final = event
        else:
            text += event["content"]
    return text, final


async def test_health_reports_model_info(runner: RunnerProcess) -> None:
    assert runner.info["arch"] == "llama"
    assert runner.info["n_ctx"] == 256 and runner.info["parallel"] == 2
    assert "message" in runner.info["chat_template"]


async def test_tokenize_detokenize_round_trip(runner: RunnerProcess) -> None:
    tokens = (await runner.call("/tokenize", {"content": "the word is hot"}))["tokens"]
    assert tokens and all(isinstance(t, int) for t in tokens)
    text = (await runner.call("/detokenize", {"tokens": tokens}))["content"]
    assert text.strip() == "the word is hot"


async def test_completion_streams_and_counts(runner: RunnerProcess) -> None:
    pieces = []
    async for event in runner.completion(
        CompletionRequest(prompt="the", options={"num_predict": 12, "seed": 1})
    ):
        pieces.append(event)
    final = pieces[-1]
    assert final["done"] is True and final["done_reason"] in ("length", "stop")
    assert final["eval_count"] <= 12 and final["prompt_eval_count"] >= 1
    assert final["prompt_eval_duration"] >= 0 and final["eval_duration"] >= 0
    assert all("content" in p for p in pieces[:-1])


async def test_num_predict_limits_tokens(runner: RunnerProcess) -> None:
    _, final = await _complete(runner, prompt="one two", options={"num_predict": 5, "temperature": 0})
    assert final["eval_count"] <= 5
    _, final0 = await _complete(runner, prompt="one two", options={"num_predict": 0})
    assert final0["eval_count"] == 0 and final0["done_reason"] == "length"


async def test_seed_makes_sampling_deterministic(runner: RunnerProcess) -> None:
    opts = {"num_predict": 20, "seed": 42, "temperature": 1.0}
    first, _ = await _complete(runner, prompt="the", options=opts)
    second, _ = await _complete(runner, prompt="the", options=opts)
    assert first == second


async def test_stop_sequence_cuts_output(runner: RunnerProcess) -> None:
    text, _ = await _complete(runner, prompt="the", options={"num_predict": 40, "seed": 3, "temperature": 0})
    assert len(text) > 4
    stop = text[2:4]
    cut, final = await _complete(
        runner, prompt="the", options={"num_predict": 40, "seed": 3, "temperature": 0, "stop": [stop]}
    )
    assert stop not in cut and final["done_reason"] == "stop"
    assert text.startswith(cut)


async def test_json_grammar_gives_valid_json(runner: RunnerProcess) -> None:
    import json

    schema = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}
    text, _ = await _complete(runner, prompt="answer", format=schema, options={"num_predict": 200, "seed": 7})
    assert isinstance(json.loads(text)["ok"], bool)


async def test_bad_option_type_is_rejected(runner: RunnerProcess) -> None:
    with pytest.raises(InvalidInput, match="temperature"):
        await _complete(runner, prompt="x", options={"temperature": "hot"})


async def test_concurrent_completions_share_slots(runner: RunnerProcess) -> None:
    results = await asyncio.gather(
        *[_complete(runner, prompt=f"word {i}", options={"num_predict": 16}) for i in range(5)]
    )
    assert all(final["done"] for _, final in results)


async def test_cancel_frees_slot(tiny_gguf: Path) -> None:
    proc = await RunnerProcess.start(LoadOptions(model=str(tiny_gguf), num_ctx=64, parallel=1))
    try:
        await proc.wait_ready(60)
        stream = proc.completion(CompletionRequest(prompt="the", options={"num_predict": 10_000_000}))
        await stream.__anext__()
        await stream.aclose()  # closing the connection cancels the job in the runner
        _, final = await asyncio.wait_for(_complete(proc, prompt="a", options={"num_predict": 3}), 60)
        assert final["done"]
    finally:
        await proc.stop()


async def test_unloadable_file_reports_reason(tmp_path: Path) -> None:
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"this is not a gguf file" * 10)
    proc = await RunnerProcess.start(LoadOptions(model=str(bad)))
    try:
        with pytest.raises(RunnerError, match="not a GGUF file"):
            await proc.wait_ready(60)
    finally:
        await proc.stop()


def test_runner_exits_when_parent_dies(tiny_gguf: Path, tmp_path: Path) -> None:
    pid_file = tmp_path / "runner.pid"
    script = textwrap.dedent(
        f"""
        import subprocess, sys, time, json
        argv = [sys.executable, "-m", "runner", "--socket", {str(tmp_path / "r.sock")!r},
                "--load", json.dumps({{"model": {str(tiny_gguf)!r}}})]
        child = subprocess.Popen(argv, stdin=subprocess.PIPE)
        open({str(pid_file)!r}, "w").write(str(child.pid))
        time.sleep(600)
        """
    )
    parent = subprocess.Popen([sys.executable, "-c", script], cwd=Path(__file__).parents[2])
    try:
        deadline = time.monotonic() + 30
        while not pid_file.exists() or not pid_file.read_text():
            assert time.monotonic() < deadline
            time.sleep(0.05)
        child = int(pid_file.read_text())
        parent.kill()
        parent.wait()
        deadline = time.monotonic() + 30
        while _alive(child):
            assert time.monotonic() < deadline, "runner outlived its parent"
            time.sleep(0.05)
    finally:
        parent.kill()


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_completion_request_carries_preserved_tokens() -> None:
    request = CompletionRequest(prompt="x", preserved_tokens=("<|start|>", "<|end|>"))
    data = request.to_json()
    assert data["preserved_tokens"] == ["<|start|>", "<|end|>"]
    assert CompletionRequest.from_json(data) == request
    assert CompletionRequest.from_json({"prompt": "x"}).preserved_tokens == ()
    with pytest.raises(ValueError, match="preserved_tokens must be a list of strings"):
        CompletionRequest.from_json({"prompt": "x", "preserved_tokens": [1]})
