"""``langchain-ollama``, unchanged, against the real server and real runners on the tiny GGUF:
``ChatOllama`` with tools (a call and its result round trip), streaming and structured output, and
``OllamaEmbeddings`` with its default settings (it sends null options, which Ollama ignores)."""

from __future__ import annotations

import asyncio
from typing import Any

from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.tools import tool
from langchain_ollama import ChatOllama, OllamaEmbeddings
from pydantic import BaseModel

from registry.store.library import Library

#: Constrains the tiny model's reply to a call of get_weather (the server parses it as a tool call).
CALL_FORMAT: Any = {
    "type": "object",
    "properties": {
        "name": {"enum": ["get_weather"]},
        "arguments": {"type": "object", "properties": {"city": {"enum": ["Oslo"]}}, "required": ["city"]},
    },
    "required": ["name", "arguments"],
}


@tool
def get_weather(city: str) -> str:
    """The weather in a city."""
    return f"Sunny in {city}"


class Verdict(BaseModel):
    """A structured answer."""

    ok: bool
    score: int


def _url(server: Any) -> str:
    return f"http://127.0.0.1:{server.server.port}"


async def test_chat_with_tools_round_trip(models: Library, make_client: Any) -> None:
    url = _url(await make_client(models))

    def calls() -> tuple[AIMessage, AIMessage]:
        caller = ChatOllama(model="tiny-tools", base_url=url, format=CALL_FORMAT, num_predict=60)
        question = HumanMessage("What is the weather in Oslo?")
        first = caller.bind_tools([get_weather]).invoke([question])
        assert isinstance(first, AIMessage)
        call = first.tool_calls[0]
        answer = ToolMessage(get_weather.invoke(call["args"]), tool_call_id=call["id"])
        plain = ChatOllama(model="tiny-tools", base_url=url, num_predict=5, temperature=0)
        second = plain.bind_tools([get_weather]).invoke([question, first, answer])
        assert isinstance(second, AIMessage)
        return first, second

    first, second = await asyncio.to_thread(calls)
    assert [(c["name"], c["args"]) for c in first.tool_calls] == [("get_weather", {"city": "Oslo"})]
    assert first.content == ""
    assert first.usage_metadata is not None and second.usage_metadata is not None
    # the call and its result are in the second prompt
    assert second.usage_metadata["input_tokens"] > first.usage_metadata["input_tokens"]
    assert second.response_metadata["done"] is True


async def test_chat_streams(models: Library, make_client: Any) -> None:
    url = _url(await make_client(models))
    chat = ChatOllama(model="tiny", base_url=url, num_predict=8, temperature=0)

    def calls() -> tuple[list[Any], Any]:
        return list(chat.stream("hello")), chat.invoke("hello")

    chunks, whole = await asyncio.to_thread(calls)
    assert len(chunks) > 1
    assert "".join(str(c.content) for c in chunks) == whole.content != ""


async def test_structured_output(models: Library, make_client: Any) -> None:
    url = _url(await make_client(models))
    chat = ChatOllama(model="tiny", base_url=url, num_predict=80)
    verdict = await asyncio.to_thread(chat.with_structured_output(Verdict).invoke, "Is it fine? Score it.")
    assert isinstance(verdict, Verdict)


async def test_embeddings_with_default_settings(models: Library, make_client: Any) -> None:
    url = _url(await make_client(models))
    embeddings = OllamaEmbeddings(model="tiny", base_url=url)

    def calls() -> tuple[list[list[float]], list[float]]:
        return embeddings.embed_documents(["the", "a cat"]), embeddings.embed_query("the")

    documents, query = await asyncio.to_thread(calls)
    assert len(documents) == 2 and len(documents[0]) == len(query) == 64
    assert documents[0] == query
