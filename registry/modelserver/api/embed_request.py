"""Embedding request logic, shared by ``/api/embed`` and OpenAI's ``/v1/embeddings``: the inputs,
``dimensions``, and normalised vectors from one lease on the model's runner."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from registry import errors
from registry.modelserver.api.inference import Prepared, normalize, scheduler_of

__all__ = ["check_dimensions", "embed_input_list", "embed_inputs"]


def check_dimensions(dimensions: Any) -> int | None:
    """``dimensions`` of an embedding request: a positive integer or absent. Raises InvalidInput."""
    if dimensions is not None and (
        not isinstance(dimensions, int) or isinstance(dimensions, bool) or dimensions < 1
    ):
        raise errors.InvalidInput("dimensions must be a positive integer")
    return dimensions


async def embed_inputs(
    request: web.Request, prepared: Prepared, inputs: list[str], *, truncate: bool, dimensions: int | None
) -> tuple[list[list[float]], int, float]:
    """Normalised embeddings of ``inputs``; returns ``(vectors, prompt_tokens, load_seconds)``."""
    if not inputs:
        return [], 0, 0.0
    vectors: list[list[float]] = []
    count = 0
    async with scheduler_of(request).lease(prepared.spec) as lease:
        for text in inputs:
            result = await lease.runner.call("/embedding", {"content": text, "truncate": truncate})
            vectors.append(normalize([float(v) for v in result["embedding"]], dimensions))
            count += int(result.get("prompt_eval_count", 0))
        return vectors, count, lease.load_duration


def embed_input_list(value: Any) -> list[str]:
    """``input``: a string or a list of strings. Raises InvalidInput."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    raise errors.InvalidInput("invalid input type: expected a string or a list of strings")
