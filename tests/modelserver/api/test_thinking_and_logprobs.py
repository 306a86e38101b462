"""Thinking and logprobs against the real server and runner, through the official clients.

The tiny model writes nonsense, so a JSON-schema ``format`` forces what it writes: the thinking
model's prompt ends with ``<think>`` and the schema's only value is ``"ab</think>cd"``, so the reply
thinks ``"ab`` and answers ``cd"``, split by the parser at whatever token boundaries the runner
streams."""

from __future__ import annotations

import asyncio
import math
from pathlib import Path
from typing import Any

import ollama
import openai
import pytest

from registry.store.library import Library
from tests.support.gguf_models import add_gguf_model

#: The tiny model's chat format with Ollama's thinking fields (tags ``<think>``/``</think>``).
THINKING_TEMPLATE = (
    "{{- range $i, $_ := .Messages }}<|{{ .Role }}|>"
    "{{- if .Thinking }}<think>{{ .Thinking }}</think>{{ end }}{{ .Content }}</s>"
    "{{- end }}<|assistant|>{{ if .Think }}<think>{{ end }}"
)
FORCED = {"enum": ["ab</think>cd"]}
USER: Any = [{"role": "user", "content": "hello"}]


def _url(client: Any) -> str:
    return f"http://127.0.0.1:{client.server.port}"


@pytest.fixture
def thinker(models: Library, tiny_gguf: Path) -> Library:
    add_gguf_model(models, "thinker", tiny_gguf, template=THINKING_TEMPLATE)
    return models


async def test_think_true_splits_thinking_from_content(thinker: Library, make_client: Any) -> None:
    server = await make_client(thinker)
    oc = ollama.Client(host=_url(server))
    opts = {"num_predict": 60, "temperature": 0}

    def calls() -> dict[str, Any]:
        return {
            "chat": oc.chat(model="thinker", messages=USER, think=True, format=FORCED, options=opts),
            "chat stream": list(
                oc.chat(model="thinker", messages=USER, think=True, format=FORCED, options=opts, stream=True)
            ),
            "generate": oc.generate(model="thinker", prompt="hello", think=True, format=FORCED, options=opts),
            "generate stream": list(
                oc.generate(
                    model="thinker", prompt="hello", think=True, format=FORCED, options=opts, stream=True
                )
            ),
            "default": oc.chat(model="thinker", messages=USER, format=FORCED, options=opts),
            "off": oc.chat(model="thinker", messages=USER, think=False, format=FORCED, options=opts),
            "show": oc.show("thinker").capabilities,
        }

    got = await asyncio.to_thread(calls)
    assert got["show"] == ["completion", "thinking"]
    assert (got["chat"].message.thinking, got["chat"].message.content) == ('"ab', 'cd"')
    stream = got["chat stream"]
    assert "".join(c.message.thinking or "" for c in stream) == '"ab'
    assert "".join(c.message.content or "" for c in stream) == 'cd"'
    assert stream[-1].done and stream[-1].done_reason == "stop"
    assert (got["generate"].thinking, got["generate"].response) == ('"ab', 'cd"')
    gen = got["generate stream"]
    assert "".join(c.thinking or "" for c in gen) == '"ab'
    assert "".join(c.response or "" for c in gen) == 'cd"'
    # a thinking model thinks unless told not to (Ollama's default)
    assert got["default"].message.thinking == '"ab'
    # think false: no <think> in the prompt, no parsing: the reply is all content
    assert got["off"].message.thinking is None
    assert got["off"].message.content == '"ab</think>cd"'


async def test_openai_reasoning_in_and_out(thinker: Library, make_client: Any) -> None:
    server = await make_client(thinker)
    oa = openai.OpenAI(base_url=_url(server) + "/v1", api_key="ollama", max_retries=0)
    fmt: Any = {"type": "json_schema", "json_schema": {"name": "f", "schema": FORCED}}

    def calls() -> tuple[Any, list[Any], Any]:
        whole = oa.chat.completions.create(
            model="thinker", messages=USER, response_format=fmt, temperature=0, reasoning_effort="medium"
        )
        chunks = list(
            oa.chat.completions.create(
                model="thinker", messages=USER, response_format=fmt, temperature=0, stream=True
            )
        )
        off = oa.chat.completions.create(
            model="thinker", messages=USER, response_format=fmt, temperature=0, reasoning_effort="none"
        )
        return whole, chunks, off

    whole, chunks, off = await asyncio.to_thread(calls)
    message = whole.choices[0].message
    assert (message.model_extra or {}).get("reasoning") == '"ab' and message.content == 'cd"'
    deltas = [c.choices[0].delta for c in chunks if c.choices]
    assert "".join((d.model_extra or {}).get("reasoning") or "" for d in deltas) == '"ab'
    assert "".join(d.content or "" for d in deltas) == 'cd"'
    assert off.choices[0].message.content == '"ab</think>cd"'


async def test_bad_think_and_reasoning_values_are_400s(thinker: Library, make_client: Any) -> None:
    server = await make_client(thinker)
    cases = [
        ("/api/chat", {"model": "thinker", "messages": USER, "think": "extreme"}, "invalid think value"),
        ("/api/chat", {"model": "thinker", "messages": USER, "think": 3}, "think must be a boolean"),
        (
            "/v1/chat/completions",
            {"model": "thinker", "messages": USER, "reasoning_effort": "x"},
            "invalid reasoning value",
        ),
    ]
    for path, body, message in cases:
        resp = await server.post(path, json=body)
        text = await resp.text()
        assert resp.status == 400 and message in text, (path, text)


async def test_logprobs_from_the_runner(models: Library, make_client: Any) -> None:
    server = await make_client(models)
    oc = ollama.Client(host=_url(server))
    greedy = {"num_predict": 8, "temperature": 0, "seed": 1}

    def calls() -> tuple[Any, list[Any], Any]:
        whole = oc.generate(model="tiny", prompt="the", options=greedy, logprobs=True, top_logprobs=5)
        chunks = list(
            oc.chat(model="tiny", messages=USER, options=greedy, logprobs=True, top_logprobs=3, stream=True)
        )
        plain = oc.generate(model="tiny", prompt="the", options=greedy, logprobs=True)
        return whole, chunks, plain

    whole, chunks, plain = await asyncio.to_thread(calls)
    tokens = whole.logprobs
    assert len(tokens) == whole.eval_count == 8
    for t in tokens:
        assert t.logprob <= 0 and len(t.top_logprobs) == 5
        tops = [x.logprob for x in t.top_logprobs]
        assert tops == sorted(tops, reverse=True) and all(x <= 0 for x in tops)
        # greedy: the chosen token is the most likely one
        assert t.top_logprobs[0].token == t.token and math.isclose(tops[0], t.logprob)
    streamed = [t for c in chunks for t in c.logprobs or []]
    assert len(streamed) == chunks[-1].eval_count and all(len(t.top_logprobs) == 3 for t in streamed)
    assert all(not t.top_logprobs for t in plain.logprobs)
    assert [t.logprob for t in plain.logprobs] == pytest.approx([t.logprob for t in tokens])
    # the bytes of the tokens (which the client drops) make up the reply
    body = {"model": "tiny", "prompt": "the", "options": greedy, "logprobs": True, "stream": False}
    raw = await (await server.post("/api/generate", json=body)).json()
    joined = bytes(b for t in raw["logprobs"] for b in t["bytes"])
    assert joined.decode(errors="replace") == raw["response"]


async def test_openai_logprobs_shapes(models: Library, make_client: Any) -> None:
    server = await make_client(models)
    oa = openai.OpenAI(base_url=_url(server) + "/v1", api_key="ollama", max_retries=0)

    def calls() -> tuple[Any, list[Any], Any]:
        chat = oa.chat.completions.create(
            model="tiny", messages=USER, max_tokens=6, temperature=0, logprobs=True, top_logprobs=2
        )
        chunks = list(
            oa.chat.completions.create(
                model="tiny", messages=USER, max_tokens=6, temperature=0, logprobs=True, stream=True
            )
        )
        legacy = oa.completions.create(model="tiny", prompt="the", max_tokens=6, temperature=0, logprobs=2)
        return chat, chunks, legacy

    chat, chunks, legacy = await asyncio.to_thread(calls)
    content = chat.choices[0].logprobs.content
    assert len(content) == chat.usage.completion_tokens
    assert all(len(t.top_logprobs) == 2 and t.logprob <= 0 for t in content)
    streamed = [
        t for c in chunks if c.choices and c.choices[0].logprobs for t in c.choices[0].logprobs.content
    ]
    assert [t.token for t in streamed] == [t.token for t in content]
    lp = legacy.choices[0].logprobs
    assert "".join(lp.tokens) == legacy.choices[0].text and len(lp.token_logprobs) == 6
    assert all(len(top) <= 2 for top in lp.top_logprobs)


async def test_out_of_range_logprobs_are_400s(models: Library, make_client: Any) -> None:
    server = await make_client(models)
    cases = [
        ("/api/generate", {"model": "tiny", "prompt": "x", "logprobs": True, "top_logprobs": 21}),
        ("/api/chat", {"model": "tiny", "messages": USER, "logprobs": True, "top_logprobs": -1}),
        ("/api/chat", {"model": "tiny", "messages": USER, "logprobs": "yes"}),
        ("/v1/chat/completions", {"model": "tiny", "messages": USER, "logprobs": True, "top_logprobs": 30}),
        ("/v1/completions", {"model": "tiny", "prompt": "x", "logprobs": 99}),
    ]
    for path, body in cases:
        resp = await server.post(path, json=body)
        assert resp.status == 400, (path, await resp.text())
        assert "logprobs" in await resp.text()


async def test_top_logprobs_is_checked_before_the_model(models: Library, make_client: Any) -> None:
    server = await make_client(models)
    for path, body in (
        ("/api/generate", {"model": "nope", "prompt": "x", "top_logprobs": 21}),
        ("/api/chat", {"model": "nope", "messages": USER, "top_logprobs": 21}),
    ):
        resp = await server.post(path, json=body)
        assert resp.status == 400 and (await resp.json()) == {
            "error": "top_logprobs must be between 0 and 20"
        }
