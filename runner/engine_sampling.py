"""Per-request sampling (a llama.cpp sampler chain) and the text side of generation: incremental
UTF-8 decoding and stop strings with partial-match hold-back (as Ollama's ``runner/common/stop.go``).
"""

from __future__ import annotations

import codecs
import ctypes
import math
import random
from typing import Any

import llama_cpp
import numpy as np

from runner.protocol import DEFAULT_SAMPLING
from runner.protocol.options import check_options

__all__ = ["Sampler", "StopText", "check_grammar", "sampling_options"]

_TOKEN_DATA = np.dtype([("id", np.int32), ("logit", np.float32), ("p", np.float32)], align=True)


def sampling_options(options: dict[str, Any]) -> dict[str, Any]:
    """Ollama's defaults overlaid with the sampling options of ``options`` (checked by
    :func:`runner.protocol.options.check_options`); ``stop`` always a list of non-empty strings.

    Raises:
        OptionError: an option of the wrong type or out of range.
    """
    merged = dict(DEFAULT_SAMPLING)
    checked = check_options(options)
    merged.update({k: v for k, v in checked.items() if k in DEFAULT_SAMPLING})
    merged["stop"] = [s for s in merged["stop"] if s]
    return merged


def check_grammar(vocab: Any, grammar: str) -> None:
    """Compile ``grammar`` once to see that llama.cpp accepts it (a schema the converter turned into
    an empty or broken grammar, e.g. ``{"enum": []}``).

    Raises:
        ValueError: llama.cpp cannot parse it.
    """
    sampler = llama_cpp.llama_sampler_init_grammar(vocab, grammar.encode(), b"root")
    if not sampler:
        raise ValueError("invalid format: the JSON schema gives a grammar llama.cpp cannot parse")
    llama_cpp.llama_sampler_free(sampler)


class Sampler:
    """A llama.cpp sampler chain for one request: penalties, top-k, typical-p, top-p, min-p,
    temperature and a seeded distribution (greedy when temperature <= 0), behind an optional
    grammar. Not thread-safe; owned by the engine loop."""

    def __init__(
        self, vocab: Any, n_vocab: int, opts: dict[str, Any], grammar: str | None, *, n_ctx: int
    ) -> None:
        self.n_vocab = n_vocab
        self.grammar: Any = None
        if grammar:
            self.grammar = llama_cpp.llama_sampler_init_grammar(vocab, grammar.encode(), b"root")
            if not self.grammar:
                raise ValueError("invalid grammar: llama.cpp could not parse it")
        params = llama_cpp.llama_sampler_chain_default_params()
        chain = llama_cpp.llama_sampler_chain_init(params)
        self.chain = chain
        add = llama_cpp.llama_sampler_chain_add
        penalties = (
            float(opts["repeat_penalty"]),
            float(opts["frequency_penalty"]),
            float(opts["presence_penalty"]),
        )
        if int(opts["repeat_last_n"]) != 0 and penalties != (1.0, 0.0, 0.0):
            # llama.cpp keeps a ring buffer of last_n tokens: never more than the context (-1: all of it)
            last_n = n_ctx if int(opts["repeat_last_n"]) < 0 else min(int(opts["repeat_last_n"]), n_ctx)
            add(chain, llama_cpp.llama_sampler_init_penalties(n_vocab, last_n, *penalties))
        temperature = float(opts["temperature"])
        if temperature <= 0:
            add(chain, llama_cpp.llama_sampler_init_greedy())
            return
        if int(opts["top_k"]) > 0:
            add(chain, llama_cpp.llama_sampler_init_top_k(int(opts["top_k"])))
        if float(opts["typical_p"]) < 1.0:
            add(chain, llama_cpp.llama_sampler_init_typical(float(opts["typical_p"]), 1))
        if float(opts["top_p"]) < 1.0:
            add(chain, llama_cpp.llama_sampler_init_top_p(float(opts["top_p"]), 1))
        if float(opts["min_p"]) > 0.0:
            add(chain, llama_cpp.llama_sampler_init_min_p(float(opts["min_p"]), 1))
        add(chain, llama_cpp.llama_sampler_init_temp(temperature))
        seed = int(opts["seed"])
        add(
            chain,
            llama_cpp.llama_sampler_init_dist(seed & 0xFFFFFFFF if seed >= 0 else random.getrandbits(32)),
        )

    def sample(self, ctx: Any, index: int) -> int:
        """Sample (and accept) the next token from the logits at batch ``index``.

        With a grammar, as llama.cpp's common sampler does: sample freely, check only the chosen
        token against the grammar, and constrain the whole vocabulary only when it was rejected
        (checking 262k candidates every step would be slow)."""
        token = int(llama_cpp.llama_sampler_sample(self.chain, ctx, index))
        if self.grammar is None:
            return token
        if not self._allowed(token):
            token = self._constrained(ctx, index)
        llama_cpp.llama_sampler_accept(self.grammar, token)
        return token

    def _allowed(self, token: int) -> bool:
        one = (llama_cpp.llama_token_data * 1)(llama_cpp.llama_token_data(token, 1.0, 0.0))
        arr = llama_cpp.llama_token_data_array(one, 1, -1, False)
        llama_cpp.llama_sampler_apply(self.grammar, ctypes.byref(arr))
        return bool(math.isfinite(one[0].logit))

    def _constrained(self, ctx: Any, index: int) -> int:
        logits = llama_cpp.llama_get_logits_ith(ctx, index)
        data = np.zeros(self.n_vocab, dtype=_TOKEN_DATA)
        data["id"] = np.arange(self.n_vocab, dtype=np.int32)
        data["logit"] = np.ctypeslib.as_array(logits, shape=(self.n_vocab,))
        ptr = data.ctypes.data_as(ctypes.POINTER(llama_cpp.llama_token_data))
        arr = llama_cpp.llama_token_data_array(ptr, self.n_vocab, -1, False)
        llama_cpp.llama_sampler_apply(self.grammar, ctypes.byref(arr))
        llama_cpp.llama_sampler_apply(self.chain, ctypes.byref(arr))
        token = int(data["id"][arr.selected])
        llama_cpp.llama_sampler_accept(self.chain, token)
        return token

    def close(self) -> None:
        """Free the samplers. Idempotent."""
        if self.chain is not None:
            llama_cpp.llama_sampler_free(self.chain)
            self.chain = None
        if self.grammar is not None:
            llama_cpp.llama_sampler_free(self.grammar)
            self.grammar = None


class StopText:
    """Turns token bytes into text pieces safe to send: holds back incomplete UTF-8 and any tail
    that could be the start of a stop string. ``push`` returns ``(text_to_send, stopped)``."""

    def __init__(self, stops: list[str]) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._stops = stops
        self._held = ""

    def push(self, data: bytes) -> tuple[str, bool]:
        """Add bytes of one token. When a stop string appears, the text before it is returned and
        ``stopped`` is True (the stop string itself is never sent)."""
        self._held += self._decoder.decode(data)
        if not self._stops:
            out, self._held = self._held, ""
            return out, False
        first = min((i for i in (self._held.find(s) for s in self._stops) if i >= 0), default=-1)
        if first >= 0:
            out = self._held[:first]
            self._held = ""
            return out, True
        keep = 0
        for stop in self._stops:
            for n in range(min(len(stop) - 1, len(self._held)), 0, -1):
                if self._held.endswith(stop[:n]):
                    keep = max(keep, n)
                    break
        cut = len(self._held) - keep
        out, self._held = self._held[:cut], self._held[cut:]
        return out, False

    def flush(self) -> str:
        """Whatever is still held back (at the end of a generation that did not hit a stop)."""
        out = self._held + self._decoder.decode(b"", final=True)
        self._held = ""
        return out
