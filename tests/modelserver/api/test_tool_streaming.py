"""With ``tools`` in a chat request, text streams as the model writes it (Ollama's and OpenAI's
routes, through the official clients and a real runner), while a tool call is sent whole as
``tool_calls`` with none of its text in the content."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import ollama
import openai

from registry.store.library import Library

TOOLS: Any = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]
USER: Any = [{"role": "user", "content": "the weather"}]
#: Greedy, so a streamed and a whole reply are the same text; a few words, none of them a call.
GREEDY = {"num_predict": 12, "temperature": 0, "seed": 1}
CALL_SCHEMA = {
    "type": "object",
    "properties": {
        "name": {"enum": ["get_weather"]},
        "arguments": {"type": "object", "properties": {"city": {"enum": ["Oslo"]}}, "required": ["city"]},
    },
    "required": ["name", "arguments"],
}


def _url(client: Any) -> str:
    return f"http://127.0.0.1:{client.server.port}"


async def test_ollama_chat_with_tools_streams_text(models: Library, make_client: Any) -> None:
    server = await make_client(models)
    oc = ollama.Client(host=_url(server))

    def calls() -> tuple[list[Any], Any]:
        chunks = list(oc.chat(model="tiny-tools", messages=USER, tools=TOOLS, stream=True, options=GREEDY))
        whole = oc.chat(model="tiny-tools", messages=USER, tools=TOOLS, options=GREEDY)
        return chunks, whole

    chunks, whole = await asyncio.to_thread(calls)
    texts = [c.message.content for c in chunks if c.message.content]
    assert len(texts) > 1, texts
    assert "".join(texts) == whole.message.content and not whole.message.tool_calls


async def test_openai_chat_with_tools_streams_text(models: Library, make_client: Any) -> None:
    server = await make_client(models)
    oa = openai.OpenAI(base_url=_url(server) + "/v1", api_key="ollama", max_retries=0)

    def chunks() -> list[Any]:
        return list(
            oa.chat.completions.create(
                model="tiny-tools",
                messages=USER,
                tools=TOOLS,
                stream=True,
                max_tokens=12,
                temperature=0,
                seed=1,
            )
        )

    got = await asyncio.to_thread(chunks)
    texts = [c.choices[0].delta.content for c in got if c.choices and c.choices[0].delta.content]
    assert len(texts) > 1, texts
    assert got[-1].choices[0].finish_reason in ("stop", "length")


async def test_a_streamed_tool_call_is_sent_whole(models: Library, make_client: Any) -> None:
    server = await make_client(models)
    oc = ollama.Client(host=_url(server))
    oa = openai.OpenAI(base_url=_url(server) + "/v1", api_key="ollama", max_retries=0)

    def calls() -> tuple[list[Any], list[Any]]:
        native = list(
            oc.chat(
                model="tiny-tools",
                messages=USER,
                tools=TOOLS,
                stream=True,
                format=CALL_SCHEMA,
                options={"num_predict": 400},
            )
        )
        compat = list(
            oa.chat.completions.create(
                model="tiny-tools",
                messages=USER,
                tools=TOOLS,
                stream=True,
                max_tokens=400,
                response_format={"type": "json_schema", "json_schema": {"name": "c", "schema": CALL_SCHEMA}},
            )
        )
        return native, compat

    native, compat = await asyncio.to_thread(calls)
    assert "".join(c.message.content or "" for c in native).strip() == ""
    made = [call for c in native for call in c.message.tool_calls or []]
    assert [(c.function.name, dict(c.function.arguments)) for c in made] == [
        ("get_weather", {"city": "Oslo"})
    ]
    assert "".join(c.choices[0].delta.content or "" for c in compat if c.choices).strip() == ""
    deltas = [t for c in compat if c.choices for t in c.choices[0].delta.tool_calls or []]
    assert [(t.function.name, json.loads(t.function.arguments)) for t in deltas] == [
        ("get_weather", {"city": "Oslo"})
    ]
    assert compat[-1].choices[0].finish_reason == "tool_calls"
