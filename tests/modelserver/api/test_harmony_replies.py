"""gpt-oss's harmony replies through the real model server and llama.cpp: a tiny Ollama-converted
gpt-oss (random weights, so its words are noise) with a harmony template. The runner renders the
harmony markers (they are special tokens), the server splits them off: with ``logprobs`` every
generated token comes back as the runner wrote it, so the raw reply is known and the server's
thinking and content must be what the harmony parser makes of it. A ``format`` whose schema is one
``const`` string makes the model write a whole harmony reply (thinking, a tool call, an answer):
the official ``ollama`` client, the OpenAI route and generate get each part apart."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import ollama
import pytest

from registry.modelserver.prompt import HarmonyStream
from registry.store.library import Library
from tests.support.gguf_models import add_gguf_model
from tests.support.ollama_gguf_moe import write_ollama_gptoss

pytest.importorskip("llama_cpp")

#: A harmony template (Ollama picks its harmony parser for gpt-oss when it has these markers).
HARMONY_TEMPLATE = (
    "{{- if .Tools }}<|start|>developer<|message|># Tools{{ range .Tools }} {{ .Function.Name }}{{ end }}<|end|>{{ end }}"
    "{{- range .Messages }}<|start|>{{ .Role }}<|message|>{{ .Content }}<|end|>{{ end }}<|start|>assistant"
)
MARKERS = ("<|start|>", "<|end|>", "<|message|>", "<|channel|>", "<|constrain|>")
#: Hot sampling over many tokens: the tiny model's noise then holds the special tokens.
OPTIONS = {"num_predict": 160, "temperature": 3.0, "top_k": 0, "top_p": 1.0, "seed": 7}


@pytest.fixture
async def server(library: Library, make_client: Any, tmp_path: Path) -> Any:
    add_gguf_model(
        library,
        "oss",
        write_ollama_gptoss(tmp_path / "gptoss.gguf"),
        template=HARMONY_TEMPLATE,
        family="gptoss",
    )
    return await make_client(library)


def _url(client: Any) -> str:
    return f"http://127.0.0.1:{client.server.port}"


async def _stream(server: Any, path: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    resp = await server.post(path, json=body)
    assert resp.status == 200, await resp.text()
    return [json.loads(line) for line in (await resp.text()).splitlines() if line.strip()]


@pytest.mark.parametrize(
    "conversation",
    [
        [{"role": "user", "content": "hi"}],
        # a prefilled answer: the reply continues in the final channel, so its noise is content
        [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "Hel"}],
    ],
    ids=["new-reply", "prefilled"],
)
async def test_the_server_splits_what_the_runner_wrote_as_the_harmony_parser_does(
    server: Any, conversation: list[dict[str, str]]
) -> None:
    chunks = await _stream(
        server, "/api/chat", {"model": "oss", "messages": conversation, "logprobs": True, "options": OPTIONS}
    )
    assert "error" not in chunks[-1], chunks[-1]
    written = b"".join(bytes(entry["bytes"]) for chunk in chunks for entry in chunk.get("logprobs") or [])
    raw = written.decode("utf-8", errors="replace")
    assert any(marker in raw for marker in MARKERS), "the runner rendered no harmony marker"
    expected = HarmonyStream(prefill=conversation[-1])
    thinking, content, calls = expected.feed(raw)
    tail = expected.finish()
    messages = [chunk["message"] for chunk in chunks]
    assert "".join(m.get("thinking", "") for m in messages) == thinking + tail[0]
    assert "".join(m["content"] for m in messages) == content + tail[1]
    assert not calls and not tail[2]
    if conversation[-1]["role"] == "assistant":
        assert content  # the prefilled answer's continuation
    else:
        assert not content.startswith("<|channel|>")  # the reply's header is not content


def _ascii(text: str) -> str:
    """The text without its non-ASCII characters (the client's logprob tokens are decoded one token
    at a time, so a character split across tokens differs; the markers are ASCII)."""
    return text.encode("ascii", "ignore").decode()


@pytest.mark.parametrize("think", [False, "low"])
async def test_the_official_client_gets_the_split_whatever_think(server: Any, think: bool | str) -> None:
    """gpt-oss's thinking is split off even with ``think: false`` (Ollama cannot turn it off)."""
    client = ollama.AsyncClient(host=_url(server))
    content, thinking, tokens = [], [], []
    stream = await client.chat(
        model="oss",
        messages=[{"role": "user", "content": "hi"}, {"role": "assistant", "content": "Hel"}],
        think=think,
        stream=True,
        logprobs=True,
        options=OPTIONS,
    )
    async for part in stream:
        content.append(part.message.content or "")
        thinking.append(part.message.thinking or "")
        tokens += [entry.token for entry in part.logprobs or []]
    expected = HarmonyStream(prefill={"role": "assistant", "content": "Hel"})
    want_thinking, want_content, _ = expected.feed("".join(tokens))
    tail = expected.finish()
    assert _ascii("".join(content)) == _ascii(want_content + tail[1])
    assert _ascii("".join(thinking)) == _ascii(want_thinking + tail[0])
    assert "".join(content)


async def test_generate_splits_harmony_too_and_raw_mode_does_not(server: Any) -> None:
    client = ollama.AsyncClient(host=_url(server))
    response, thinking, tokens = [], [], []
    async for part in await client.generate(
        model="oss", prompt="hi", stream=True, logprobs=True, options=OPTIONS
    ):
        response.append(part.response)
        thinking.append(part.thinking or "")
        tokens += [entry.token for entry in part.logprobs or []]
    expected = HarmonyStream()
    want_thinking, want_content, _ = expected.feed("".join(tokens))
    tail = expected.finish()
    assert _ascii("".join(response)) == _ascii(want_content + tail[1])
    assert _ascii("".join(thinking)) == _ascii(want_thinking + tail[0])
    raw = await client.generate(
        model="oss",
        prompt="<|start|>user<|message|>hi<|end|><|start|>assistant",
        raw=True,
        options={**OPTIONS, "num_predict": 8},
    )
    assert raw.done and not raw.thinking


async def test_the_openai_route_gets_the_split(server: Any) -> None:
    resp = await server.post(
        "/v1/chat/completions",
        json={
            "model": "oss",
            "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "Hel"}],
            "max_tokens": 64,
            "seed": 7,
            "temperature": 2.0,
        },
    )
    assert resp.status == 200, await resp.text()
    message = (await resp.json())["choices"][0]["message"]
    assert message["role"] == "assistant" and isinstance(message["content"], str)
    assert not message["content"].startswith(("<|channel|>", "<|message|>"))


#: A JSON string the model is made to write (``format`` with a ``const`` schema): a whole harmony
#: reply, quotes around it, the tool call's arguments ``{}`` (a JSON string cannot hold bare quotes).
#: The tool ``get-weather`` is shown to the model as ``get_weather`` and called back by its name.
FORCED = (
    "<|channel|>analysis<|message|>Need weather.<|end|>"
    "<|start|>assistant<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>{}<|end|>"
    "<|start|>assistant<|channel|>final<|message|>It is sunny."
)
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get-weather",
        "description": "weather",
        "parameters": {"type": "object", "properties": {}},
    },
}


async def test_a_forced_harmony_reply_is_thinking_a_tool_call_and_content(server: Any) -> None:
    client = ollama.AsyncClient(host=_url(server))
    reply = await client.chat(
        model="oss",
        messages=[{"role": "user", "content": "weather?"}],
        tools=[WEATHER_TOOL],
        format={"const": FORCED},
        options={"num_predict": 400, "temperature": 0},
    )
    assert reply.message.thinking == "Need weather."
    assert reply.message.content == 'It is sunny."'
    calls = reply.message.tool_calls or []
    assert [(c.function.name, dict(c.function.arguments)) for c in calls] == [("get-weather", {})]


async def test_a_forced_harmony_reply_streams_each_part_apart(server: Any) -> None:
    """With ``think: false`` too: gpt-oss cannot stop thinking, and its analysis is still thinking."""
    client = ollama.AsyncClient(host=_url(server))
    thinking, content, calls = [], [], []
    async for part in await client.chat(
        model="oss",
        messages=[{"role": "user", "content": "weather?"}],
        tools=[WEATHER_TOOL],
        format={"const": FORCED},
        think=False,
        stream=True,
        options={"num_predict": 400, "temperature": 0},
    ):
        thinking.append(part.message.thinking or "")
        content.append(part.message.content or "")
        calls += part.message.tool_calls or []
    assert "".join(thinking) == "Need weather."
    assert "".join(content) == 'It is sunny."'
    assert [c.function.name for c in calls] == ["get-weather"]


async def test_a_forced_harmony_reply_on_the_openai_route_and_generate(server: Any) -> None:
    resp = await server.post(
        "/v1/chat/completions",
        json={
            "model": "oss",
            "messages": [{"role": "user", "content": "weather?"}],
            "tools": [WEATHER_TOOL],
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "r", "schema": {"const": FORCED}},
            },
            "max_tokens": 400,
            "temperature": 0,
        },
    )
    assert resp.status == 200, await resp.text()
    choice = (await resp.json())["choices"][0]
    assert choice["message"]["reasoning"] == "Need weather."
    assert choice["message"]["content"] == 'It is sunny."'
    assert [c["function"]["name"] for c in choice["message"]["tool_calls"]] == ["get-weather"]
    assert choice["finish_reason"] == "tool_calls"
    client = ollama.AsyncClient(host=_url(server))
    final = (
        FORCED.split("<|start|>assistant<|channel|>commentary")[0]
        + "<|start|>assistant<|channel|>final<|message|>Hi"
    )
    reply = await client.generate(
        model="oss", prompt="hi", format={"const": final}, options={"num_predict": 200, "temperature": 0}
    )
    assert (reply.thinking, reply.response) == ("Need weather.", 'Hi"')
    resp = await server.post(
        "/api/generate",
        json={
            "model": "oss",
            "prompt": "weather?",
            "format": {"const": FORCED},
            "stream": False,
            "options": {"num_predict": 400, "temperature": 0},
        },
    )
    body = await resp.json()
    assert (body["thinking"], body["response"]) == ("Need weather.", 'It is sunny."')
    # generate has no tools to map names back to: the call keeps the name the model wrote
    assert [c["function"]["name"] for c in body["tool_calls"]] == ["get_weather"]


async def test_a_config_naming_the_harmony_parser_selects_it_whatever_the_family(
    library: Library, make_client: Any, tmp_path: Path
) -> None:
    """Ollama's ``PARSER harmony``: the parser, and with it tools and thinking, without the family
    or a harmony template."""
    blob = write_ollama_gptoss(tmp_path / "gptoss.gguf")
    add_gguf_model(library, "parsed", blob, template="{{ .Prompt }}", config={"parser": "harmony"})
    server = await make_client(library)
    shown = await (await server.post("/api/show", json={"model": "parsed"})).json()
    assert {"tools", "thinking"} <= set(shown["capabilities"])
    client = ollama.AsyncClient(host=_url(server))
    reply = await client.chat(
        model="parsed",
        messages=[{"role": "user", "content": "weather?"}],
        tools=[WEATHER_TOOL],
        format={"const": FORCED},
        options={"num_predict": 400, "temperature": 0},
    )
    assert (reply.message.thinking, reply.message.content) == ("Need weather.", 'It is sunny."')
    assert [c.function.name for c in reply.message.tool_calls or []] == ["get-weather"]


async def test_a_tool_call_that_is_not_json_ends_the_reply_with_ollamas_error(server: Any) -> None:
    bad = FORCED.replace("<|message|>{}<|end|>", "<|message|>{nope}<|end|>")
    body = {
        "model": "oss",
        "prompt": "x",
        "format": {"const": bad},
        "options": {"num_predict": 400, "temperature": 0},
    }
    resp = await server.post("/api/generate", json={**body, "stream": False})
    assert resp.status == 500
    assert (await resp.json())["error"].startswith("error parsing tool call: raw='{nope}'")
    lines = await _stream(server, "/api/generate", body)
    assert lines[-1]["error"].startswith("error parsing tool call")
    assert "".join(line.get("thinking", "") for line in lines) == "Need weather."
    # the runner's slot was freed: the model answers the next request
    reply = await ollama.AsyncClient(host=_url(server)).generate(
        model="oss", prompt="hi", options={"num_predict": 2}
    )
    assert reply.done
