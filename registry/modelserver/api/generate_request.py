"""``/api/generate``'s request logic, shared by the Ollama route and OpenAI's ``/v1/completions``:
a validated body becomes Ollama's generate events (rendered prompt, optional context, durations)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from registry.modelserver.api.images import check_image, has_markers, place_images
from registry.modelserver.api.inference import (
    Prepared,
    check_format,
    check_think,
    completion_events,
    created_at,
    durations,
    load_only_events,
    model_template,
    render_prompt,
    require_capabilities,
    require_vision,
    scheduler_of,
)
from registry.modelserver.api.json_body import body_field
from registry.modelserver.prompt.chat import PromptTemplate
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
    require_capabilities(prepared, think=check_think(body.get("think")), insert=bool(suffix))
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
    if not raw and template_src:  # a request's own template: rendered before a runner is needed
        text = await render_prompt(
            request,
            lambda: PromptTemplate.from_go(template_src).render_generate(
                prompt, system=system, suffix=suffix
            ),
        )
    async with scheduler_of(request).lease(prepared.spec) as lease:
        if not raw:
            if not template_src:
                text = await render_prompt(
                    request,
                    lambda: model_template(prepared, lease).render_generate(
                        prompt, system=system, suffix=suffix
                    ),
                )
            if context:
                detok = await lease.runner.call("/detokenize", {"tokens": context})
                text = str(detok.get("content", "")) + text
        async for event in completion_events(
            request, lease, text, prepared.options, fmt, want_context=not raw, images=placed
        ):
            yield _generate_event(prepared, lease, event, raw=raw, started=started)


def _generate_event(
    prepared: Prepared, lease: Lease, event: dict[str, Any], *, raw: bool, started: float
) -> dict[str, Any]:
    """Ollama's generate response for one runner event: a chunk of text, or the final one (with
    ``context`` unless ``raw``, and the durations since ``started``)."""
    if not event.get("done"):
        return {
            "model": prepared.name,
            "created_at": created_at(),
            "response": event["content"],
            "done": False,
        }
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
