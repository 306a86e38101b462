"""A runner with a vision projector (the tiny Gemma 3 style mmproj over the tiny text model), as a
real process through llama.cpp's libmtmd: image tokens reach the model, a cached image is reused,
and bad images, markers or projectors are refused with a message."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from registry.errors import InvalidInput, RunnerError
from registry.modelserver.scheduler import RunnerProcess
from runner.protocol import CompletionRequest, LoadOptions
from tests.support.vision_gguf import IMAGE_TOKENS, write_gemma3_projector, write_png

PNG = base64.b64encode(write_png(20, 12)).decode()
OTHER_PNG = base64.b64encode(write_png(9, 30, seed=1)).decode()


@pytest.fixture(scope="module")
def projector(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_gemma3_projector(tmp_path_factory.mktemp("mmproj") / "mmproj.gguf", text_embd=64)


@pytest.fixture
async def runner(tiny_gguf: Path, projector: Path) -> AsyncIterator[RunnerProcess]:
    options = LoadOptions(model=str(tiny_gguf), projectors=(str(projector),), num_ctx=256, parallel=2)
    proc = await RunnerProcess.start(options)
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


async def test_image_tokens_reach_the_model(runner: RunnerProcess) -> None:
    assert runner.info["vision"] is True
    opts = {"num_predict": 3, "seed": 1}
    _, plain = await _complete(runner, prompt="the cat is", options=opts)
    _, one = await _complete(
        runner, prompt="[img-0]the cat is", options=opts, images=({"id": 0, "data": PNG},)
    )
    _, two = await _complete(
        runner,
        prompt="[img-0] and [img-1] the cat is",
        options=opts,
        images=({"id": 0, "data": PNG}, {"id": 1, "data": OTHER_PNG}),
    )
    assert one["done"] and one["eval_count"] >= 1
    assert one["prompt_eval_count"] >= plain["prompt_eval_count"] + IMAGE_TOKENS
    assert two["prompt_eval_count"] >= one["prompt_eval_count"] + IMAGE_TOKENS


async def test_a_seed_makes_image_prompts_deterministic(runner: RunnerProcess) -> None:
    """Same seed, same image, same text (Ollama's promise), also after the image was cached."""
    request: dict[str, Any] = {
        "prompt": "[img-0] the",
        "options": {"num_predict": 6, "seed": 7, "temperature": 1.0},
        "images": ({"id": 0, "data": PNG},),
    }
    first, _ = await _complete(runner, **request)
    await _complete(runner, **{**request, "options": {"num_predict": 2}})  # cached, unseeded
    second, _ = await _complete(runner, **request)
    assert first == second


async def test_two_slots_see_different_images_at_once(runner: RunnerProcess) -> None:
    async def ask(image: str) -> dict[str, Any]:
        _, final = await _complete(
            runner,
            prompt="[img-0] the cat is",
            options={"num_predict": 4},
            images=({"id": 0, "data": image},),
            want_context=True,
        )
        return final

    first, second = await asyncio.gather(ask(PNG), ask(OTHER_PNG))
    assert first["done"] and second["done"]
    assert first["prompt_eval_count"] == second["prompt_eval_count"]
    # the context holds token ids only (an image is no token), so it can be sent back
    assert all(0 <= t < runner.info["n_vocab"] for t in first["context"])
    detok = await runner.call("/detokenize", {"tokens": first["context"]})
    assert "the cat is" in detok["content"]


@pytest.mark.parametrize(
    ("prompt", "images", "message"),
    [
        ("[img-3] x", ({"id": 0, "data": PNG},), "invalid image index: 3"),
        (
            "[img-0] x",
            ({"id": 0, "data": base64.b64encode(b"not an image").decode()},),
            "could not be decoded",
        ),
        ("[img-0] x", ({"id": 0, "data": "%%%"},), "invalid base64"),
        ("no marker", ({"id": 0, "data": PNG},), "no [img-N] marker"),
    ],
)
async def test_bad_images_are_refused(runner: RunnerProcess, prompt: str, images: Any, message: str) -> None:
    with pytest.raises(InvalidInput, match=message.replace("[", r"\[").replace("]", r"\]")):
        await _complete(runner, prompt=prompt, options={"num_predict": 1}, images=images)
    _, ok = await _complete(
        runner, prompt="[img-0] x", options={"num_predict": 1}, images=({"id": 0, "data": PNG},)
    )
    assert ok["done"]  # the runner goes on serving


async def test_too_many_image_tokens_for_the_context(tiny_gguf: Path, projector: Path) -> None:
    proc = await RunnerProcess.start(
        LoadOptions(model=str(tiny_gguf), projectors=(str(projector),), num_ctx=32)
    )
    try:
        await proc.wait_ready(60)
        with pytest.raises(InvalidInput, match="images are never truncated"):
            await _complete(
                proc,
                prompt="[img-0][img-1] x",
                options={"num_predict": 1},
                images=({"id": 0, "data": PNG}, {"id": 1, "data": PNG}),
            )
    finally:
        await proc.stop()


async def test_a_model_without_projector_refuses_images(tiny_gguf: Path) -> None:
    proc = await RunnerProcess.start(LoadOptions(model=str(tiny_gguf), num_ctx=64))
    try:
        await proc.wait_ready(60)
        assert proc.info["vision"] is False
        with pytest.raises(InvalidInput, match="does not support images"):
            await _complete(proc, prompt="[img-0] x", images=({"id": 0, "data": PNG},))
    finally:
        await proc.stop()


async def test_a_projector_for_another_model_fails_the_load(tiny_gguf: Path, tmp_path: Path) -> None:
    wrong = write_gemma3_projector(tmp_path / "wrong.gguf", text_embd=48)
    proc = await RunnerProcess.start(LoadOptions(model=str(tiny_gguf), projectors=(str(wrong),), num_ctx=64))
    try:
        with pytest.raises(RunnerError, match="vision projector"):
            await proc.wait_ready(60)
    finally:
        await proc.stop()


async def test_logprobs_come_with_an_image_prompt(runner: RunnerProcess) -> None:
    """``logprobs`` holds for prompts with images too (the image path once dropped it)."""
    events = [
        event
        async for event in runner.completion(
            CompletionRequest(
                prompt="[img-0]the cat is",
                options={"num_predict": 3, "temperature": 0},
                images=({"id": 0, "data": PNG},),
                logprobs=True,
                top_logprobs=2,
            )
        )
    ]
    tokens = [lp for event in events if not event.get("done") for lp in event.get("logprobs", [])]
    assert len(tokens) == events[-1]["eval_count"]
    for lp in tokens:
        assert lp["logprob"] <= 0 and len(lp["top_logprobs"]) == 2
