"""``/api/generate``'s request logic, shared by the Ollama route and OpenAI's ``/v1/completions``:
a validated body becomes Ollama's generate events (rendered prompt with its images placed, thinking
apart from the response, logprobs per token, optional context, durations)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from registry import errors
from registry.modelserver.api.images import check_image, has_markers, place_images
from registry.modelserver.api.inference import (
    Prepared,
    check_format,
    check_logprobs,
    check_think,
    completion_events,
    created_at,
    durations,
    load_only_events,
    model_template,
    render_prompt,
    reply_stream,
    require_capabilities,
    require_vision,
    scheduler_of,
)
from registry.modelserver.api.json_body import body_field
from registry.modelserver.prompt import HarmonyError, PromptTemplate, ReplyPiece
from registry.modelserver.scheduler import Lease

__all__ = ["generate_stream"]


async def generate_stream(
    request: web.Request, body: dict[str, Any], prepared: Prepared
) -> AsyncIterator[dict[str, Any]]:
    """Events of ``/api/generate`` for a validated body."""
    started = time.perf_counter()
    prompt = body_field(body, "prompt", str, "")
    raw = bool(body_field(body, "raw", bool, False))
    context = body_field(body, "context", list) or []
    fmt = check_format(body.get("format"))
    suffix = body_field(body, "suffix", str, "")
    logprobs = check_logprobs(body)
    think = require_capabilities(prepared, think=check_think(body.get("think")), insert=bool(suffix))
    images = body_field(body, "images", list) or []
    if images:
        require_vision(prepared)
        images = [check_image(image, f"invalid image {i}") for i, image in enumerate(images)]
    if not prompt:
        async for event in load_only_events(request, prepared, {"response": ""}):
            yield event
        return
    placed: list[dict[str, Any]] = []
    if images:  # Ollama: the prompt is one user message carrying the images
        marked, placed = place_images([{"role": "user", "content": prompt, "images": images}])
        if not raw or not has_markers(prompt):
            prompt = str(marked[0]["content"])
    system = body_field(body, "system", str) or prepared.info.system
    template_src = body_field(body, "template", str)
    text = prompt
    compiled: list[PromptTemplate] = []  # the request's own template, compiled in the render pool

    def render_own() -> str:
        compiled.append(PromptTemplate.from_go(template_src or ""))
        return compiled[0].render_generate(prompt, system=system, suffix=suffix, think=think)

    if not raw and template_src:  # a request's own template: rendered before a runner is needed
        text = await render_prompt(request, render_own)
    async with scheduler_of(request).lease(prepared.spec) as lease:
        template = compiled[0] if compiled else model_template(prepared, lease)
        if not raw:
            if not compiled:
                text = await render_prompt(
                    request,
                    lambda: template.render_generate(prompt, system=system, suffix=suffix, think=think),
                )
            if context:
                detok = await lease.runner.call("/detokenize", {"tokens": context})
                text = str(detok.get("content", "")) + text
        config = {} if raw else prepared.info.config  # raw mode: no harmony parser (as Ollama)
        reply = reply_stream(
            template,
            text,
            think,
            family=str(config.get("model_family") or ""),
            parser=str(config.get("parser") or ""),
        )
        events = completion_events(
            request,
            lease,
            text,
            prepared.options,
            fmt,
            want_context=not raw,
            logprobs=logprobs,
            images=placed,
            preserved_tokens=reply.preserved_tokens,
        )
        try:
            async for event in events:
                if not event.get("done"):
                    piece = reply.feed(event["content"])
                    if piece or reply.plain or event.get("logprobs"):
                        yield _generate_chunk(prepared, piece, event.get("logprobs"))
                    continue
                piece = reply.finish()
                if piece:
                    yield _generate_chunk(prepared, piece, None)
                yield _generate_final(prepared, lease, event, raw=raw, started=started)
        except HarmonyError as err:  # the model's tool call is not JSON (Ollama: a 500 error)
            await events.aclose()  # ends the runner's generation now
            raise errors.RunnerError(str(err)) from err


def _generate_chunk(
    prepared: Prepared, piece: ReplyPiece, logprobs: list[dict[str, Any]] | None
) -> dict[str, Any]:
    """Ollama's generate response for a piece of the reply (``thinking`` and ``tool_calls`` only when
    there are some)."""
    chunk: dict[str, Any] = {
        "model": prepared.name,
        "created_at": created_at(),
        "response": piece.content,
        "done": False,
    }
    if piece.thinking:
        chunk["thinking"] = piece.thinking
    if piece.calls:  # a harmony reply's tool calls (Ollama's GenerateResponse.ToolCalls)
        chunk["tool_calls"] = piece.calls
    if logprobs:
        chunk["logprobs"] = logprobs
    return chunk


def _generate_final(
    prepared: Prepared, lease: Lease, event: dict[str, Any], *, raw: bool, started: float
) -> dict[str, Any]:
    """Ollama's final generate response (with ``context`` unless ``raw``, and the durations since
    ``started``)."""
    final = {
        "model": prepared.name,
        "created_at": created_at(),
        "response": "",
        "done": True,
        "done_reason": event.get("done_reason", "stop"),
    }
    if not raw:
        final["context"] = event.get("context", [])
    final.update(durations(started, lease, event))
    return final
