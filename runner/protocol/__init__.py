"""The runner's wire protocol: with :mod:`runner.protocol.options` (the option table), the only modules of
``runner`` the model server imports.

The model server starts ``python -m runner`` with the argv built by :func:`runner_argv` and talks to
it over HTTP on a unix socket:

``GET /health``
    ``{"status": "loading"|"ok"|"error", "progress": 0..1, "error"?: str, "info"?: ModelMeta}``.
    ``info`` (once loaded): ``{"arch", "n_ctx_train", "n_ctx", "n_embd", "chat_template", "bos",
    "eos", "n_vocab", "parallel", "vision"}`` (``vision``: a projector is loaded).
``POST /completion``
    :class:`CompletionRequest` as JSON (``images``: ``[{"id", "data": base64}]``, each placed at
    the prompt's ``[img-<id>]``). The answer is NDJSON: ``{"content": str}`` per piece of
    text (with ``logprobs`` asked, one event per token, ``{"content", "logprobs": [{"token",
    "logprob", "bytes", "top_logprobs"?: [{"token", "logprob", "bytes"}]}]}``; content may be ""
    while text is held back), then one final ``{"done": true, "done_reason": "stop"|"length", "prompt_eval_count",
    "prompt_eval_duration", "eval_count", "eval_duration", "context": [tokens]}`` (durations in
    ns). An error before streaming is a 4xx/5xx ``{"error": ...}``; after it, a final
    ``{"error": ...}`` line. Closing the connection cancels the generation and frees its slot.
``POST /embedding``
    ``{"content": str, "truncate": bool}`` -> ``{"embedding": [float], "prompt_eval_count": n}``
    (pooled, not normalised). Too long with ``truncate`` false: 400.
``POST /tokenize``
    ``{"content": str, "add_special"?: bool}`` -> ``{"tokens": [int]}``.
``POST /detokenize``
    ``{"tokens": [int]}`` -> ``{"content": str}``.

The runner exits by itself when its standard input reaches end of file: the server keeps the write
end of that pipe open for the runner's lifetime, so a dead server (even one killed with SIGKILL)
means a dead runner.
"""

from __future__ import annotations

import sys
from dataclasses import asdict, dataclass, field, fields
from typing import Any

__all__ = [
    "DEFAULT_SAMPLING",
    "HEALTH_ERROR",
    "HEALTH_LOADING",
    "HEALTH_OK",
    "INFERENCE_MISSING",
    "LOAD_OPTION_NAMES",
    "MAX_PREDICT_PER_CTX",
    "MAX_TOP_LOGPROBS",
    "SAMPLING_OPTION_NAMES",
    "CompletionRequest",
    "LoadOptions",
    "inference_installed",
    "runner_argv",
]

#: What the server and the runner say when llama-cpp-python (the ``inference`` extra) is absent.
INFERENCE_MISSING = "inference is not installed: pip install 'ollama-py[inference]'"


def inference_installed() -> bool:
    """True when ``llama_cpp`` can be imported (found on the path; not imported here: that loads
    the native library)."""
    import importlib.util

    try:
        return importlib.util.find_spec("llama_cpp") is not None
    except (ImportError, ValueError):
        return False


HEALTH_LOADING = "loading"
HEALTH_OK = "ok"
HEALTH_ERROR = "error"


@dataclass(frozen=True, slots=True)
class LoadOptions:
    """Everything fixed when a model is loaded; a change in any of these needs a new runner.

    ``num_ctx`` is per slot: the llama context holds ``num_ctx * parallel`` positions.
    ``num_gpu`` -1 means "as many layers as fit" (all of them here); ``num_thread`` 0 means auto.
    """

    model: str
    adapters: tuple[str, ...] = ()
    projectors: tuple[str, ...] = ()
    num_ctx: int = 4096
    num_batch: int = 512
    num_thread: int = 0
    num_gpu: int = -1
    main_gpu: int = 0
    use_mmap: bool = True
    parallel: int = 1
    flash_attention: bool = False
    kv_cache_type: str = "f16"

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (tuples become lists)."""
        data = asdict(self)
        data["adapters"] = list(self.adapters)
        data["projectors"] = list(self.projectors)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LoadOptions:
        """Inverse of :meth:`to_json`; unknown keys are ignored."""
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values["adapters"] = tuple(values.get("adapters", ()))
        values["projectors"] = tuple(values.get("projectors", ()))
        return cls(**values)


#: Options that are part of :class:`LoadOptions` (a request that changes one triggers a reload).
LOAD_OPTION_NAMES = ("num_ctx", "num_batch", "num_thread", "num_gpu", "main_gpu", "use_mmap")

#: Ollama's per-request sampling defaults (``api.DefaultOptions``).
DEFAULT_SAMPLING: dict[str, Any] = {
    "num_keep": 4,
    "seed": -1,
    "num_predict": -1,
    "top_k": 40,
    "top_p": 0.9,
    "min_p": 0.0,
    "typical_p": 1.0,
    "repeat_last_n": 64,
    "temperature": 0.8,
    "repeat_penalty": 1.0,
    "presence_penalty": 0.0,
    "frequency_penalty": 0.0,
    "stop": [],
}

SAMPLING_OPTION_NAMES = tuple(DEFAULT_SAMPLING)

#: The most alternatives ``top_logprobs`` may ask for (Ollama's limit).
MAX_TOP_LOGPROBS = 20

#: Every generation ends after at most this many tokens per position of the context (Ollama's
#: ``boundedNumPredict``: a negative or larger ``num_predict`` becomes ``10 * num_ctx``).
MAX_PREDICT_PER_CTX = 10


@dataclass(frozen=True, slots=True)
class CompletionRequest:
    """One completion. ``prompt`` is text (tokenized with special tokens parsed) unless ``tokens``
    is given. ``format`` is ``"json"``, a JSON-schema object, or None; ``grammar`` a GBNF grammar
    (wins over ``format``). ``options`` holds the sampling options named in
    :data:`SAMPLING_OPTION_NAMES` (missing ones take :data:`DEFAULT_SAMPLING`)."""

    prompt: str = ""
    tokens: tuple[int, ...] | None = None
    options: dict[str, Any] = field(default_factory=dict)
    format: str | dict[str, Any] | None = None
    grammar: str | None = None
    add_special: bool = True
    truncate: bool = True
    want_context: bool = False
    logprobs: bool = False
    top_logprobs: int = 0
    images: tuple[dict[str, Any], ...] = ()
    """Ollama's ``ImageData``: ``{"id": n, "data": base64}``, placed where the prompt says
    ``[img-n]`` (needs a model loaded with a projector)."""
    preserved_tokens: tuple[str, ...] = ()
    """Special tokens (each one token of the vocabulary) generated as their text; other special
    tokens are generated as nothing (Ollama's ``PreservedTokens``, e.g. harmony's markers)."""

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        data = asdict(self)
        data["tokens"] = list(self.tokens) if self.tokens is not None else None
        data["images"] = [dict(image) for image in self.images]
        data["preserved_tokens"] = list(self.preserved_tokens)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CompletionRequest:
        """Inverse of :meth:`to_json`; unknown keys ignored. Raises ValueError on wrong types."""
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        tokens = values.get("tokens")
        if tokens is not None:
            if not isinstance(tokens, list) or not all(isinstance(t, int) for t in tokens):
                raise ValueError("tokens must be a list of integers")
            values["tokens"] = tuple(tokens)
        if not isinstance(values.get("prompt", ""), str):
            raise ValueError("prompt must be a string")
        if not isinstance(values.get("options", {}), dict):
            raise ValueError("options must be an object")
        top = values.get("top_logprobs", 0)
        if isinstance(top, bool) or not isinstance(top, int) or not 0 <= top <= MAX_TOP_LOGPROBS:
            raise ValueError(f"top_logprobs must be between 0 and {MAX_TOP_LOGPROBS}")
        images = values.get("images") or []
        if not isinstance(images, list) or not all(
            isinstance(i, dict) and isinstance(i.get("id"), int) and isinstance(i.get("data"), str)
            for i in images
        ):
            raise ValueError('images must be a list of {"id": integer, "data": base64 string}')
        values["images"] = tuple(images)
        preserved = values.get("preserved_tokens") or []
        if not isinstance(preserved, list) or not all(isinstance(t, str) for t in preserved):
            raise ValueError("preserved_tokens must be a list of strings")
        values["preserved_tokens"] = tuple(preserved)
        return cls(**values)


def runner_argv(options: LoadOptions, socket_path: str, *, python: str | None = None) -> list[str]:
    """The command line that starts a runner for ``options`` listening on ``socket_path``."""
    import json

    return [
        python or sys.executable,
        "-m",
        "runner",
        "--socket",
        socket_path,
        "--load",
        json.dumps(options.to_json()),
    ]
