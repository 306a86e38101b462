"""Log-probabilities of generated tokens, as Ollama reports them: a log-softmax over the model's raw
logits for the position (llama-server's ``n_probs`` without ``post_sampling_probs``, which Ollama's
runner asks for), so temperature, penalties, top-k/top-p/min-p and grammars do not change them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import llama_cpp
import numpy as np
import numpy.typing as npt

__all__ = ["log_softmax", "token_logprob"]

Scores = npt.NDArray[np.float64]


def log_softmax(ctx: Any, index: int, n_vocab: int) -> Scores:
    """The log-softmax of the logits at batch ``index`` (a copy: sampling may not change it)."""
    raw = llama_cpp.llama_get_logits_ith(ctx, index)
    logits = np.ctypeslib.as_array(raw, shape=(n_vocab,)).astype(np.float64)
    top = float(np.max(logits))
    return logits - (top + float(np.log(np.sum(np.exp(logits - top)))))


def _entry(piece: bytes, logprob: float) -> dict[str, Any]:
    return {"token": piece.decode("utf-8", errors="replace"), "logprob": logprob, "bytes": list(piece)}


def token_logprob(
    scores: Scores, token: int, piece: bytes, top: int, piece_of: Callable[[int], bytes]
) -> dict[str, Any]:
    """Ollama's ``Logprob`` for ``token`` (its text, log-probability and bytes), with the ``top``
    most likely tokens, most likely first, as ``top_logprobs`` when ``top`` > 0."""
    entry = _entry(piece, float(scores[token]))
    if top > 0:
        k = min(top, scores.shape[0])
        best = np.argpartition(-scores, k - 1)[:k]
        best = best[np.argsort(-scores[best], kind="stable")]
        entry["top_logprobs"] = [_entry(piece_of(int(t)), float(scores[t])) for t in best]
    return entry
