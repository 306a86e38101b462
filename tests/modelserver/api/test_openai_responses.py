"""The OpenAI Responses API (``/v1/responses``) through the official ``openai`` SDK's
``client.responses``, unchanged, against the real server and real runners on the tiny GGUF (the
protocol is under test, not the words); a tools template for function calls (``tool_choice``
constrains the reply to a call)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import openai
from pydantic import BaseModel

from registry.store.library import Library

WEATHER_TOOL: Any = {
    "type": "function",
    "name": "get_weather",
    "description": "The weather in a city",
    "parameters": {"type": "object", "properties": {"city": {"enum": ["Oslo"]}}, "required": ["city"]},
    "strict": True,
}


def _client(server: Any) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=f"http://127.0.0.1:{server.server.port}/v1", api_key="ollama", max_retries=0, timeout=120
    )


async def test_plain_response_with_instructions(models: Library, make_client: Any) -> None:
    oa = _client(await make_client(models))
    resp = await asyncio.to_thread(
        oa.responses.create,
        model="tiny",
        instructions="Answer briefly.",
        input="hello there",
        max_output_tokens=6,
        temperature=0,
    )
    assert resp.object == "response" and resp.status == "completed" and resp.id.startswith("resp_")
    assert resp.instructions == "Answer briefly." and resp.max_output_tokens == 6
    assert [item.type for item in resp.output] == ["message"]
    assert resp.output_text and resp.output_text == resp.output[0].content[0].text  # type: ignore[union-attr]
    assert resp.usage is not None and resp.usage.output_tokens <= 6 and resp.usage.input_tokens > 0
    assert resp.usage.total_tokens == resp.usage.input_tokens + resp.usage.output_tokens


async def test_stream_events_and_text_match_the_whole_reply(models: Library, make_client: Any) -> None:
    oa = _client(await make_client(models))
    request: Any = {
        "model": "tiny",
        "input": [{"role": "user", "content": [{"type": "input_text", "text": "count to five"}]}],
        "max_output_tokens": 12,
        "temperature": 0,
    }

    def calls() -> tuple[list[Any], Any]:
        events = list(oa.responses.create(stream=True, **request))
        return events, oa.responses.create(**request)

    events, whole = await asyncio.to_thread(calls)
    kinds = [e.type for e in events]
    assert kinds[:2] == ["response.created", "response.in_progress"]
    assert kinds[-1] == "response.completed"
    assert [e.sequence_number for e in events] == list(range(len(events)))
    for kind in (
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
    ):
        assert kind in kinds, kind
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert text == whole.output_text != ""
    completed = events[-1].response
    assert completed.output_text == text and completed.usage.output_tokens == whole.usage.output_tokens


async def test_function_call_round_trip(models: Library, make_client: Any) -> None:
    oa = _client(await make_client(models))
    question: Any = {"role": "user", "content": "What is the weather in Oslo?"}

    def calls() -> tuple[Any, Any]:
        first = oa.responses.create(
            model="tiny-tools",
            input=[question],
            tools=[WEATHER_TOOL],
            tool_choice="required",
            max_output_tokens=60,
        )
        call = next(item for item in first.output if item.type == "function_call")
        second = oa.responses.create(
            model="tiny-tools",
            input=[
                question,
                {
                    "type": "function_call",
                    "call_id": call.call_id,
                    "name": call.name,
                    "arguments": call.arguments,
                },
                {"type": "function_call_output", "call_id": call.call_id, "output": "Sunny, 21 C"},
            ],
            tools=[WEATHER_TOOL],
            max_output_tokens=6,
        )
        return first, second

    first, second = await asyncio.to_thread(calls)
    calls_out = [item for item in first.output if item.type == "function_call"]
    assert len(calls_out) == 1 and calls_out[0].name == "get_weather"
    assert json.loads(calls_out[0].arguments) == {"city": "Oslo"}
    assert calls_out[0].call_id.startswith("call_") and calls_out[0].status == "completed"
    assert second.status == "completed"
    assert second.usage is not None and first.usage is not None
    assert second.usage.input_tokens > first.usage.input_tokens  # the call and its output are in the prompt


async def test_streamed_function_call(models: Library, make_client: Any) -> None:
    oa = _client(await make_client(models))

    def call() -> list[Any]:
        return list(
            oa.responses.create(
                model="tiny-tools",
                input="weather?",
                tools=[WEATHER_TOOL],
                tool_choice={"type": "function", "name": "get_weather"},
                max_output_tokens=60,
                stream=True,
            )
        )

    events = await asyncio.to_thread(call)
    done = [e for e in events if e.type == "response.function_call_arguments.done"]
    assert len(done) == 1 and json.loads(done[0].arguments) == {"city": "Oslo"}
    final = events[-1].response
    assert [item.type for item in final.output if item.type == "function_call"] == ["function_call"]


async def test_refusals_are_400s_in_openais_shape(models: Library, make_client: Any) -> None:
    server = await make_client(models)
    oa = _client(server)

    def calls() -> list[Any]:
        out = []
        for kwargs in (
            {"model": "tiny", "input": "x", "previous_response_id": "resp_123"},
            {"model": "missing", "input": "x"},
            {"model": "tiny", "input": [{"type": "bogus"}]},
            {"model": "tiny-go", "input": "x", "tools": [WEATHER_TOOL]},
        ):
            try:
                oa.responses.create(**kwargs)
            except openai.APIStatusError as err:
                out.append((err.status_code, err.body))
        return out

    previous, missing, bogus, no_tools = await asyncio.to_thread(calls)
    assert previous[0] == 400 and "previous_response_id is not supported" in previous[1]["message"]
    assert missing[0] == 404 and missing[1]["message"] == "model 'missing' not found"
    assert bogus[0] == 400 and "unknown input item type" in bogus[1]["message"]
    assert no_tools[0] == 400 and "does not support tools" in no_tools[1]["message"]
    resp = await server.post("/v1/responses", data=b"[]")
    assert resp.status == 400 and (await resp.json())["error"]["type"] == "invalid_request_error"


class Verdict(BaseModel):
    """A structured answer."""

    ok: bool
    score: int


async def test_structured_output_through_parse(models: Library, make_client: Any) -> None:
    oa = _client(await make_client(models))
    parsed = await asyncio.to_thread(
        oa.responses.parse, model="tiny", input="Is it fine?", text_format=Verdict, max_output_tokens=80
    )
    assert isinstance(parsed.output_parsed, Verdict)
    assert parsed.text.format.type == "json_schema"
