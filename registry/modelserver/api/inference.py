"""What the Ollama and OpenAI routes share: resolving a model into a runner spec, validating
options, rendering prompts, and streaming a runner's completion while watching the client.

A client that disconnects stops its generation: every event checks the request's transport, and
leaving the runner's stream early closes its connection, which frees the slot in the runner.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp import web

from registry import errors
from registry.config import Settings
from registry.durations import parse_keep_alive
from registry.modelserver.api import keys
from registry.modelserver.api.model_lookup import model_not_found
from registry.modelserver.prompt import (
    HarmonyStream,
    PromptTemplate,
    ReplyStream,
    TemplateError,
    ThinkingParser,
    ToolCallStream,
    tool_names,
    uses_harmony,
)
from registry.modelserver.scheduler import KeepAlive, Lease, LoadSettings, ModelShape, ModelSpec, Scheduler
from registry.oci import mediatypes as mt
from registry.oci.name import ModelName
from registry.store.library import Library
from registry.store.library.model_info import ModelInfo, capabilities
from runner.protocol import DEFAULT_SAMPLING, CompletionRequest
from runner.protocol.options import OptionError, check_options

__all__ = [
    "RENDER_POOL",
    "Prepared",
    "check_logprobs",
    "check_think",
    "completion_events",
    "created_at",
    "load_only_events",
    "model_capabilities",
    "model_template",
    "normalize",
    "prepare",
    "render_pool_ctx",
    "render_prompt",
    "reply_stream",
    "require_capabilities",
    "require_vision",
    "scheduler_of",
]


log = logging.getLogger(__name__)


def created_at() -> str:
    """Now as RFC 3339 UTC with sub-second digits (Go's RFC3339Nano shape)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def scheduler_of(request: web.Request) -> Scheduler:
    """The app's scheduler."""
    return request.app[keys.SCHEDULER]


@dataclass(frozen=True)
class Prepared:
    """A resolved request: the model as the client named it, its info, its runner spec (with the
    request's keep_alive) and the merged options."""

    name: str
    info: ModelInfo
    spec: ModelSpec
    options: dict[str, Any]
    vision_refusal: str | None = None
    """Why the model's embedded vision tower cannot be used (it then runs text-only)."""


def _checked_options(parameters: dict[str, Any], request_options: Any) -> dict[str, Any]:
    """The model's parameters overlaid with the request's options (a null option keeps the
    parameter), every one type- and range-checked by :func:`runner.protocol.options.check_options`."""
    try:
        return check_options({**parameters, **check_options(request_options)})
    except OptionError as err:
        raise errors.InvalidInput(str(err)) from err


def _keep_alive(value: Any) -> KeepAlive | None:
    """The request's ``keep_alive`` parsed (None: not given, the model keeps its session)."""
    if value is None:
        return None
    return KeepAlive(parse_keep_alive(value))


async def prepare(request: web.Request, body: dict[str, Any], text: str, name: ModelName) -> Prepared:
    """Resolve ``name`` and merge the model's parameters with the request's ``options``.

    Raises:
        ModelNotFound: ``model '<text>' not found`` (404).
        InvalidInput: bad options or keep_alive, or a model llama.cpp cannot run.
    """
    library = request.app[keys.LIBRARY]
    try:
        info = await asyncio.to_thread(library.model_info, name)
    except errors.ModelNotFound:
        raise model_not_found(text) from None
    if info.model_path is None:
        kinds = ", ".join(sorted({layer.media_type for layer in info.manifest.layers})) or "none"
        raise errors.Unsupported(
            f"model '{text}' cannot be run: it has no GGUF weights that llama.cpp can load (layers: {kinds})"
        )
    options = _checked_options(info.parameters, body.get("options"))
    weights = await _runnable_weights(library, info, text)
    projectors, vision_refusal = await _runnable_projectors(library, info)
    scheduler = scheduler_of(request)
    shape = await _weights_shape(scheduler, weights)
    spec = ModelSpec(
        name=info.row.name,
        digest=info.row.manifest.digest,
        size=info.row.manifest.total_size,
        details=info.details,
        weights=weights,
        adapters=info.adapter_paths,
        projectors=projectors,
        settings=_load_settings(request.app[keys.SETTINGS], shape, options),
    )
    spec = scheduler.with_parallel(spec, shape)
    if shape is not None:
        scheduler.check_memory(spec, shape)
    spec = replace(spec, keep_alive=_keep_alive(body.get("keep_alive")))
    return Prepared(text, info, spec, options, vision_refusal)


async def _runnable_projectors(library: Library, info: ModelInfo) -> tuple[tuple[Path, ...], str | None]:
    """The projector files the runner loads, and why an embedded vision tower cannot be used.

    Projector layers go through the compatibility layer like weights (a LLaVA projector without
    a type gets one). A model without projector layers whose weights blob holds a vision tower
    (Ollama's monolithic Gemma 3, Qwen 2.5-VL) gets that tower extracted as an mmproj (see
    :mod:`registry.ggufcompat.projectors`), or a refusal that requests with images are given.
    """
    digests = [layer.digest for layer in info.manifest.layers if layer.media_type == mt.OLLAMA_PROJECTOR]
    paths: list[Path] = []
    for digest, path in zip(digests, info.projector_paths, strict=False):
        try:
            paths.append((await asyncio.to_thread(library.runnable_weights, digest)).path)
        except (errors.Unsupported, errors.InvalidWeights):
            paths.append(path)  # the runner loads it as it is and says why it cannot
    if paths or info.model_digest is None:
        return tuple(paths), None
    try:
        embedded = await asyncio.to_thread(library.runnable_projector, info.model_digest)
    except errors.InvalidWeights:
        return (), None
    if embedded is None:
        return (), None
    if embedded.path is None:
        return (), embedded.refusal
    return (embedded.path,), None


async def _runnable_weights(library: Library, info: ModelInfo, text: str) -> Path:
    """The GGUF the runner loads: the weights blob, or its llama.cpp translation when Ollama's
    converter wrote it (built once per digest; see :mod:`registry.ggufcompat`).

    Raises:
        Unsupported: a layout no GGUF engine can load as stored (the message names the model).
    """
    assert info.model_path is not None
    if info.model_digest is None:
        return info.model_path
    try:
        runnable = await asyncio.to_thread(library.runnable_weights, info.model_digest)
    except errors.Unsupported as err:
        raise errors.Unsupported(f"model '{text}' cannot be run: {err}") from err
    except errors.InvalidWeights:
        return info.model_path  # the runner loads it and says why it cannot
    if runnable.built:
        log.info(
            "model %s is an Ollama-converted GGUF: translated for llama.cpp into %s (%s)",
            text,
            runnable.path,
            "; ".join(runnable.notes),
        )
    return runnable.path


async def _weights_shape(scheduler: Scheduler, weights: Path) -> ModelShape | None:
    """The GGUF's dimensions; None when it is not a readable GGUF (the runner then fails to load it
    and says why: 500 "unable to load model").

    Raises:
        StoreError: the model's weights cannot be opened.
    """
    try:
        return await scheduler.model_shape(weights)
    except OSError as err:
        raise errors.StoreError(f"cannot read the model's weights: {err.strerror or err}") from err
    except errors.InvalidWeights:
        return None


def _load_settings(settings: Settings, shape: ModelShape | None, options: dict[str, Any]) -> LoadSettings:
    """The runner's load settings: ``num_ctx`` at least 4 and at most the model's training context
    (as Ollama), ``num_batch`` at most ``num_ctx`` (as llama.cpp)."""
    num_ctx = max(4, options.get("num_ctx") or settings.context_length)
    if shape is not None and shape.n_ctx_train > 0:
        num_ctx = min(num_ctx, max(4, shape.n_ctx_train))
    return LoadSettings(
        num_ctx=num_ctx,
        num_batch=min(options.get("num_batch") or 512, num_ctx),
        num_thread=options.get("num_thread", 0),
        num_gpu=options.get("num_gpu", -1),
        main_gpu=options.get("main_gpu", 0),
        use_mmap=options.get("use_mmap", True),
        parallel=settings.num_parallel,  # 0 (auto) is decided by Scheduler.with_parallel
    )


#: The threads that render prompts: off the event loop, apart from the default executor (which the
#: library's catalog calls use), so that slow templates delay only other renders.
RENDER_POOL: web.AppKey[ThreadPoolExecutor] = web.AppKey("render_pool", ThreadPoolExecutor)
_RENDER_THREADS = 4


async def render_pool_ctx(app: web.Application) -> AsyncIterator[None]:
    """The render pool lives as long as the app (a render still running ends within its budget)."""
    pool = ThreadPoolExecutor(max_workers=_RENDER_THREADS, thread_name_prefix="render")
    app[RENDER_POOL] = pool
    yield
    pool.shutdown(wait=False, cancel_futures=True)


async def render_prompt(request: web.Request, render: Callable[[], str]) -> str:
    """Run ``render`` (template compile and render, within the template's budget) in the render
    pool.

    Raises:
        InvalidInput: ``template error: ...`` when the template fails or exceeds its budget.
    """
    try:
        return await asyncio.get_running_loop().run_in_executor(request.app[RENDER_POOL], render)
    except TemplateError as err:
        raise errors.InvalidInput(f"template error: {err}") from err


def model_template(prepared: Prepared, lease: Lease) -> PromptTemplate:
    """The model's compiled template (Modelfile TEMPLATE, else the GGUF's chat template).

    Raises:
        InvalidInput: the template does not parse.
    """
    info = lease.runner.info
    try:
        return PromptTemplate.for_model(
            prepared.info.template,
            str(info.get("chat_template") or "") or None,
            bos=str(info.get("bos") or ""),
            eos=str(info.get("eos") or ""),
        )
    except TemplateError as err:
        raise errors.InvalidInput(
            f"model '{prepared.name}' has a template that cannot be used: {err}"
        ) from err


def strip_bos(prompt: str, lease: Lease) -> str:
    """Drop a BOS the template wrote when llama.cpp will add one anyway."""
    bos = str(lease.runner.info.get("bos") or "")
    if bos and lease.runner.info.get("add_bos") and prompt.startswith(bos):
        return prompt[len(bos) :]
    return prompt


def _client_gone(request: web.Request) -> bool:
    transport = request.transport
    return transport is None or transport.is_closing()


async def completion_events(
    request: web.Request,
    lease: Lease,
    prompt: str,
    options: dict[str, Any],
    fmt: Any,
    *,
    want_context: bool = False,
    logprobs: tuple[bool, int] = (False, 0),
    images: list[dict[str, Any]] | None = None,
    preserved_tokens: tuple[str, ...] = (),
) -> AsyncGenerator[dict[str, Any], None]:
    """The runner's events for one completion; stops quietly when the client goes away. With
    ``logprobs`` (wanted, top) each text event carries the ``logprobs`` of its tokens.
    ``images`` (``{"id", "data"}``) go where the prompt says ``[img-<id>]``.
    ``preserved_tokens`` are special tokens the runner renders as text (the reply's parser needs
    them: :attr:`~registry.modelserver.prompt.ReplyStream.preserved_tokens`).

    Raises:
        InvalidInput: the runner rejected the request.
        RunnerError: the runner failed (the scheduler then replaces it).
    """
    sampling = {k: options[k] for k in DEFAULT_SAMPLING if k in options}
    creq = CompletionRequest(
        prompt=strip_bos(prompt, lease),
        options=sampling,
        format=fmt if fmt not in ("", None) else None,
        want_context=want_context,
        logprobs=logprobs[0],
        top_logprobs=logprobs[1] if logprobs[0] else 0,
        images=tuple(images or ()),
        preserved_tokens=preserved_tokens,
    )
    stream = lease.runner.completion(creq)
    try:
        async for event in stream:
            if _client_gone(request):
                return
            yield event
    except errors.RunnerError:
        if not lease.runner.alive or not await lease.runner.ping():
            scheduler_of(request).mark_dead(lease.model)
        raise
    finally:
        await stream.aclose()


def check_format(fmt: Any) -> Any:
    """Ollama's ``format``: ``""``/None, ``"json"`` or a JSON-schema object. Raises InvalidInput."""
    if fmt in (None, ""):
        return None
    if fmt == "json" or isinstance(fmt, dict):
        return fmt
    raise errors.InvalidInput(f'invalid format: {fmt!r}; expected "json" or a JSON schema')


def normalize(vector: list[float], dimensions: int | None = None) -> list[float]:
    """L2-normalise (after truncating to ``dimensions``). Raises InvalidInput on NaN/Inf."""
    if dimensions:
        vector = vector[:dimensions]
    if any(math.isnan(v) or math.isinf(v) for v in vector):
        raise errors.InvalidInput("embedding contains NaN or Inf values")
    norm = math.sqrt(sum(v * v for v in vector))
    return [v / norm for v in vector] if norm > 0 else vector


def durations(started: float, lease: Lease, final: dict[str, Any]) -> dict[str, Any]:
    """The metric fields of a final response (ns)."""
    return {
        "total_duration": int((time.perf_counter() - started) * 1e9),
        "load_duration": int(lease.load_duration * 1e9),
        "prompt_eval_count": final.get("prompt_eval_count", 0),
        "prompt_eval_duration": final.get("prompt_eval_duration", 0),
        "eval_count": final.get("eval_count", 0),
        "eval_duration": final.get("eval_duration", 0),
    }


def require_vision(prepared: Prepared) -> None:
    """Refuse images for a model that cannot see them (400, naming the model): one with no
    vision projector (a projector layer, or a vision tower inside its GGUF), or whose embedded
    tower cannot be extracted (the reason is given)."""
    embedded = bool(prepared.spec.projectors) or prepared.vision_refusal is not None
    if not embedded and "vision" not in capabilities(prepared.info):
        raise errors.InvalidInput(
            f"model '{prepared.name}' does not support images: it has no vision projector"
        )
    if prepared.vision_refusal is not None and not prepared.spec.projectors:
        raise errors.InvalidInput(
            f"model '{prepared.name}' cannot take images here: {prepared.vision_refusal}"
        )


_THINK_LEVELS = ("high", "medium", "low", "max")
#: Families whose ``think`` may be a level rather than true/false (Ollama: harmony models).
_LEVELLED_FAMILIES = ("gptoss", "gpt-oss")


def check_think(value: Any) -> bool | str | None:
    """Ollama's ``think``: absent, true/false, or a level. Raises InvalidInput."""
    if value is None or isinstance(value, bool) or value in _THINK_LEVELS:
        return value  # type: ignore[no-any-return]
    if isinstance(value, str):
        raise errors.InvalidInput(
            f'invalid think value: "{value}" (must be "high", "medium", "low", "max", true, or false)'
        )
    raise errors.InvalidInput(
        'think must be a boolean or string ("high", "medium", "low", "max", true, or false)'
    )


def check_logprobs(body: dict[str, Any]) -> tuple[bool, int]:
    """Ollama's ``logprobs`` (bool) and ``top_logprobs`` (0..20). Raises InvalidInput."""
    want = body.get("logprobs")
    top = body.get("top_logprobs")
    if want is not None and not isinstance(want, bool):
        raise errors.InvalidInput("logprobs must be a boolean")
    if top is None:
        top = 0
    if isinstance(top, bool) or not isinstance(top, int) or not 0 <= top <= 20:
        raise errors.InvalidInput("top_logprobs must be between 0 and 20")
    return bool(want), top


def model_capabilities(info: ModelInfo, inferred: list[str] | None = None) -> list[str]:
    """The model's capabilities (``inferred``, e.g. what ``show_response`` found with the GGUF's
    keys at hand, else :func:`capabilities`), with ``thinking`` decided as Ollama does for a Go
    template: when :func:`~registry.modelserver.prompt.thinking_tags` finds both tags (or the
    family is gpt-oss), not merely when the template names ``.Thinking``. A model whose config names
    the ``harmony`` parser thinks and calls tools (Ollama's ``parserCapabilities``)."""
    caps = list(inferred) if inferred is not None else capabilities(info)
    if info.config.get("parser") == "harmony":
        caps += [cap for cap in ("tools", "thinking") if cap not in caps]
    if not info.template:
        return caps
    try:
        opening, closing = PromptTemplate.from_go(info.template).thinking_tags
    except TemplateError:
        return caps
    thinks = (
        bool(opening and closing)
        or info.config.get("model_family") in _LEVELLED_FAMILIES
        or info.config.get("parser") == "harmony"
    )
    caps = [c for c in caps if c != "thinking"]
    return [*caps, "thinking"] if thinks else caps


def require_capabilities(
    prepared: Prepared, *, think: bool | str | None = None, tools: bool = False, insert: bool = False
) -> bool | str | None:
    """Refuse what the model cannot do, as Ollama before it schedules a runner: ``think`` (true or a
    level; false is always fine), ``tools`` and ``insert`` (a ``suffix``), each named by
    :func:`capabilities` from the model's template. Returns the ``think`` to use: as given, or
    true when not given and the model thinks (Ollama's default); ``"max"`` is ``"high"``. A level
    on a thinking model that takes none reaches the template as ``ThinkLevel`` (as Ollama).

    Raises:
        InvalidInput: ``"<model>" does not support thinking`` (the name as requested), ``think value
            "high" is not supported for this model``, or ``<full name> does not support tools``
            (``insert``, or both joined by a newline, as Go's ``errors.Join``).
    """
    caps = model_capabilities(prepared.info)
    config = prepared.info.config
    levelled = config.get("model_family") in _LEVELLED_FAMILIES or config.get("parser") == "harmony"
    if isinstance(think, str) and not levelled and "thinking" not in caps:
        raise errors.InvalidInput(f'think value "{think}" is not supported for this model')
    if think and "thinking" not in caps:
        raise errors.InvalidInput(f'"{prepared.name}" does not support thinking')
    missing = [cap for cap, wanted in (("tools", tools), ("insert", insert)) if wanted and cap not in caps]
    if missing:
        raise errors.InvalidInput(f"{prepared.info.row.name} does not support " + "\n".join(missing))
    if think is None and "thinking" in caps:
        return True
    return "high" if think == "max" else think


def reply_stream(
    template: PromptTemplate,
    prompt: str,
    think: bool | str | None,
    tools: list[dict[str, Any]] | None = None,
    *,
    family: str = "",
    parser: str = "",
    prefill: dict[str, Any] | None = None,
    harmony_names: dict[str, str] | None = None,
) -> ReplyStream:
    """The splitter of one reply (as Ollama's handlers). A harmony model (:func:`uses_harmony`:
    the config's ``parser`` is ``harmony``, or the gpt-oss ``family`` with a harmony template) gets the harmony parser, whatever ``think``
    (Ollama's built-in parser: gpt-oss cannot stop thinking, and its thinking is always split
    off), continuing the conversation's last message ``prefill`` when it is the assistant's, and
    giving tool calls the user's names (``harmony_names``, from
    :func:`~registry.modelserver.prompt.harmony_tool_names`). Otherwise thinking is parsed when
    ``think`` is on and the template has thinking tags (already open when the prompt ends with the
    opening tag); tool calls when ``tools`` are given, by the template's tool-call tag."""
    if uses_harmony(family, template.source, parser):
        return ReplyStream(harmony=HarmonyStream(prefill, harmony_names))
    opening, closing = template.thinking_tags
    thinking = None
    if think and opening and closing:
        thinking = ThinkingParser(opening, closing)
        if prompt.strip().endswith(opening):
            thinking.add(opening)
    splitter = ToolCallStream(tool_names(tools), template.tool_call_tag) if tools else None
    return ReplyStream(thinking, splitter)


async def load_only_events(
    request: web.Request, prepared: Prepared, extra: dict[str, Any]
) -> AsyncIterator[dict[str, Any]]:
    """A request with nothing to generate: load the model (``done_reason: load``), or unload it
    when ``keep_alive`` is 0 (``done_reason: unload``); ``extra`` fills the response fields."""
    scheduler = scheduler_of(request)
    if prepared.spec.keep_alive is not None and prepared.spec.keep_alive.unloads_now:
        await scheduler.expire(prepared.spec.weights)
        yield {
            "model": prepared.name,
            "created_at": created_at(),
            **extra,
            "done": True,
            "done_reason": "unload",
        }
        return
    async with scheduler.lease(prepared.spec):
        pass
    yield {"model": prepared.name, "created_at": created_at(), **extra, "done": True, "done_reason": "load"}
