"""The official ``ollama`` and ``openai`` Python clients, unchanged, against the real server."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import ollama
import openai

from registry.store.library import Library


def _url(client: Any) -> str:
    return f"http://127.0.0.1:{client.server.port}"


async def test_ollama_client_every_inference_endpoint(models: Library, make_client: Any) -> None:
    server = await make_client(models)
    oc = ollama.Client(host=_url(server))

    def calls() -> dict[str, Any]:
        out: dict[str, Any] = {}
        out["gen"] = oc.generate(model="tiny", prompt="the", options={"num_predict": 5, "seed": 1})
        out["gen_stream"] = list(
            oc.generate(model="tiny", prompt="the", stream=True, options={"num_predict": 5})
        )
        out["chat"] = oc.chat(
            model="tiny", messages=[{"role": "user", "content": "hi"}], options={"num_predict": 5}
        )
        out["chat_stream"] = list(
            oc.chat(
                model="tiny",
                messages=[{"role": "user", "content": "hi"}],
                stream=True,
                options={"num_predict": 5},
            )
        )
        out["embed"] = oc.embed(model="tiny", input=["the", "a"])
        out["embeddings"] = oc.embeddings(model="tiny", prompt="the")
        out["ps"] = oc.ps()
        out["list"] = oc.list()
        out["show"] = oc.show("tiny")
        try:
            oc.generate(model="missing", prompt="x")
        except ollama.ResponseError as err:
            out["missing"] = (err.status_code, err.error)
        return out

    out = await asyncio.to_thread(calls)
    assert out["gen"].done and out["gen"].eval_count <= 5 and out["gen"].context
    assert out["gen_stream"][-1].done and out["gen_stream"][-1].done_reason in ("stop", "length")
    assert out["chat"].message.role == "assistant" and out["chat"].done
    assert out["chat_stream"][-1].done
    assert len(out["embed"].embeddings) == 2
    assert len(out["embeddings"].embedding) == 64
    assert [m.model for m in out["ps"].models] == ["tiny:latest"]
    assert {m.model for m in out["list"].models} >= {"tiny:latest"}
    assert out["show"].details is not None
    assert out["missing"] == (404, "model 'missing' not found")


async def test_ollama_client_json_format(models: Library, make_client: Any) -> None:
    server = await make_client(models)
    oc = ollama.Client(host=_url(server))
    schema = {"type": "object", "properties": {"n": {"type": "boolean"}}, "required": ["n"]}
    resp = await asyncio.to_thread(
        oc.generate, model="tiny", prompt="x", format=schema, options={"num_predict": 300}
    )
    assert isinstance(json.loads(resp.response)["n"], bool)


async def test_openai_client_every_endpoint(models: Library, make_client: Any) -> None:
    server = await make_client(models)
    oa = openai.OpenAI(base_url=_url(server) + "/v1", api_key="ollama", max_retries=0)
    schema = {
        "type": "object",
        "properties": {
            "name": {"enum": ["get_weather"]},
            "arguments": {"type": "object", "properties": {"city": {"enum": ["Oslo"]}}, "required": ["city"]},
        },
        "required": ["name", "arguments"],
    }
    tools: Any = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]

    def calls() -> dict[str, Any]:
        out: dict[str, Any] = {}
        out["chat"] = oa.chat.completions.create(
            model="tiny", messages=[{"role": "user", "content": "hi"}], max_tokens=5
        )
        out["stream"] = list(
            oa.chat.completions.create(
                model="tiny",
                messages=[{"role": "user", "content": "hi"}],
                max_tokens=5,
                stream=True,
                stream_options={"include_usage": True},
            )
        )
        out["tools"] = oa.chat.completions.create(
            model="tiny-tools",
            messages=[{"role": "user", "content": "weather in Oslo?"}],
            tools=tools,
            max_tokens=400,
            response_format={"type": "json_schema", "json_schema": {"name": "call", "schema": schema}},
        )
        out["json"] = oa.chat.completions.create(
            model="tiny",
            messages=[{"role": "user", "content": "json"}],
            max_tokens=400,
            response_format={
                "type": "json_schema",
                "json_schema": {
                    "name": "b",
                    "schema": {"type": "object", "properties": {"b": {"type": "boolean"}}, "required": ["b"]},
                },
            },
        )
        out["completion"] = oa.completions.create(model="tiny", prompt="the", max_tokens=5)
        out["completion_stream"] = list(
            oa.completions.create(model="tiny", prompt="the", max_tokens=5, stream=True)
        )
        out["embeddings"] = oa.embeddings.create(model="tiny", input=["the", "a"])
        out["models"] = oa.models.list()
        out["model"] = oa.models.retrieve("tiny")
        try:
            oa.chat.completions.create(model="missing", messages=[{"role": "user", "content": "x"}])
        except openai.NotFoundError as err:
            out["missing"] = err.status_code
        return out

    out = await asyncio.to_thread(calls)
    assert out["chat"].choices[0].message.role == "assistant" and out["chat"].usage.completion_tokens <= 5
    assert out["stream"][-1].usage is not None and out["stream"][0].choices[0].delta.role == "assistant"
    call = out["tools"].choices[0].message.tool_calls[0]
    assert call.function.name == "get_weather" and json.loads(call.function.arguments) == {"city": "Oslo"}
    assert out["tools"].choices[0].finish_reason == "tool_calls"
    assert isinstance(json.loads(out["json"].choices[0].message.content)["b"], bool)
    assert out["completion"].object == "text_completion"
    assert out["completion_stream"][-1].choices[0].finish_reason in ("stop", "length")
    assert len(out["embeddings"].data) == 2
    assert "tiny:latest" in [m.id for m in out["models"].data]
    assert out["model"].id == "tiny:latest"
    assert out["missing"] == 404
