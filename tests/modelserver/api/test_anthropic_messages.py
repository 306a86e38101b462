"""The Anthropic Messages API (``/v1/messages``) through the official ``anthropic`` SDK, unchanged,
against the real server and real runners on the tiny GGUF (the protocol is under test, not the
words), with a tools template for tool calls (``tool_choice`` constrains the reply to a call)."""

from __future__ import annotations

import asyncio
from typing import Any

import anthropic

from registry.store.library import Library

WEATHER_TOOL: Any = {
    "name": "get_weather",
    "description": "The weather in a city",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"enum": ["Oslo"]}},
        "required": ["city"],
    },
}
#: Greedy sampling: the SDK no longer has ``temperature`` and ``top_k`` arguments; the server still
#: takes them (as Ollama), so they go in the body as extra fields.
GREEDY: Any = {"extra_body": {"temperature": 0, "top_k": 1}}


def _client(server: Any) -> anthropic.Anthropic:
    return anthropic.Anthropic(
        base_url=f"http://127.0.0.1:{server.server.port}", api_key="ollama", max_retries=0, timeout=120
    )


async def test_plain_message_with_system_blocks(models: Library, make_client: Any) -> None:
    ac = _client(await make_client(models))
    msg = await asyncio.to_thread(
        ac.messages.create,
        model="tiny",
        max_tokens=40,
        system=[{"type": "text", "text": "You answer in one short sentence."}],
        messages=[{"role": "user", "content": "What colour is the sky on a clear day?"}],
        **GREEDY,
    )
    assert msg.type == "message" and msg.role == "assistant" and msg.model == "tiny"
    assert msg.id.startswith("msg_")
    assert [b.type for b in msg.content] == ["text"]
    assert msg.content[0].text.strip()  # type: ignore[union-attr]
    assert msg.stop_reason in ("end_turn", "max_tokens")
    assert msg.usage.input_tokens > 5 and 0 < msg.usage.output_tokens <= 40


async def test_max_tokens_is_the_stop_reason(models: Library, make_client: Any) -> None:
    ac = _client(await make_client(models))
    msg = await asyncio.to_thread(
        ac.messages.create,
        model="tiny",
        max_tokens=4,
        messages=[{"role": "user", "content": "Write a long story about a dragon."}],
        **GREEDY,
    )
    assert msg.stop_reason == "max_tokens" and msg.usage.output_tokens == 4


async def test_stream_events_and_text_match_the_whole_reply(models: Library, make_client: Any) -> None:
    ac = _client(await make_client(models))
    request: Any = {
        "model": "tiny",
        "max_tokens": 24,
        "messages": [{"role": "user", "content": "Name three fruits."}],
        **GREEDY,
    }

    def calls() -> tuple[list[str], Any, Any]:
        with ac.messages.stream(**request) as stream:
            kinds = [event.type for event in stream]
            final = stream.get_final_message()
        whole = ac.messages.create(**request)
        return kinds, final, whole

    kinds, final, whole = await asyncio.to_thread(calls)
    assert kinds[0] == "message_start" and kinds[-1] == "message_stop"
    assert kinds[-2] == "message_delta"
    assert "content_block_start" in kinds and "content_block_stop" in kinds
    assert final.content[0].text == whole.content[0].text != ""
    assert final.stop_reason == whole.stop_reason
    assert final.usage.output_tokens == whole.usage.output_tokens


async def test_tool_use_round_trip(models: Library, make_client: Any) -> None:
    ac = _client(await make_client(models))
    user: Any = [{"role": "user", "content": "What is the weather in Oslo?"}]

    def calls() -> tuple[Any, Any]:
        first = ac.messages.create(
            model="tiny-tools",
            max_tokens=60,
            messages=user,
            tools=[WEATHER_TOOL],
            tool_choice={"type": "tool", "name": "get_weather"},
        )
        use = next(b for b in first.content if b.type == "tool_use")
        second = ac.messages.create(
            model="tiny-tools",
            max_tokens=8,
            messages=[
                *user,
                {"role": "assistant", "content": first.content},
                {
                    "role": "user",
                    "content": [{"type": "tool_result", "tool_use_id": use.id, "content": "Sunny, 21 C"}],
                },
            ],
            tools=[WEATHER_TOOL],
        )
        return first, second

    first, second = await asyncio.to_thread(calls)
    assert first.stop_reason == "tool_use"
    uses = [b for b in first.content if b.type == "tool_use"]
    assert len(uses) == 1 and uses[0].name == "get_weather" and uses[0].input == {"city": "Oslo"}
    assert uses[0].id.startswith("call_")
    assert second.stop_reason in ("end_turn", "max_tokens", "tool_use")
    # the call and its result are in the second prompt
    assert second.usage.input_tokens > first.usage.input_tokens


async def test_streamed_tool_use(models: Library, make_client: Any) -> None:
    ac = _client(await make_client(models))

    def call() -> tuple[list[Any], Any]:
        with ac.messages.stream(
            model="tiny-tools",
            max_tokens=60,
            messages=[{"role": "user", "content": "weather?"}],
            tools=[WEATHER_TOOL],
            tool_choice={"type": "any"},
        ) as stream:
            events = list(stream)
            return events, stream.get_final_message()

    events, final = await asyncio.to_thread(call)
    deltas = [e.delta.type for e in events if e.type == "content_block_delta"]
    assert "input_json_delta" in deltas
    assert final.stop_reason == "tool_use"
    assert [(b.type, b.input) for b in final.content if b.type == "tool_use"] == [
        ("tool_use", {"city": "Oslo"})
    ]


async def test_errors_have_anthropics_shape(models: Library, make_client: Any) -> None:
    server = await make_client(models)
    ac = _client(server)

    def calls() -> list[Any]:
        out = []
        for kwargs in (
            {"model": "tiny", "max_tokens": 0, "messages": [{"role": "user", "content": "x"}]},
            {"model": "missing", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]},
            {"model": "tiny", "max_tokens": 5, "messages": []},
            {
                "model": "tiny",
                "max_tokens": 5,
                "messages": [{"role": "user", "content": "x"}],
                "tools": [WEATHER_TOOL],
                "tool_choice": {"type": "tool", "name": "nope"},
            },
        ):
            try:
                ac.messages.create(**kwargs)
            except anthropic.APIStatusError as err:
                out.append((err.status_code, err.body))
        return out

    (bad_max, missing, empty, bad_choice) = await asyncio.to_thread(calls)
    assert bad_max[0] == 400 and bad_max[1]["type"] == "error"
    assert bad_max[1]["error"] == {
        "type": "invalid_request_error",
        "message": "max_tokens is required and must be positive",
    }
    assert missing[0] == 404 and missing[1]["error"]["type"] == "not_found_error"
    assert missing[1]["error"]["message"] == "model 'missing' not found"
    assert empty[0] == 400 and empty[1]["error"]["message"] == "messages is required"
    assert bad_choice[0] == 400 and "nope" in bad_choice[1]["error"]["message"]
    resp = await server.post("/v1/messages", data=b"{not json")
    body = await resp.json()
    assert resp.status == 400 and body["type"] == "error"
    assert body["error"]["type"] == "invalid_request_error" and body["request_id"].startswith("req_")


async def test_tools_on_a_model_without_tools_is_a_400(models: Library, make_client: Any) -> None:
    ac = _client(await make_client(models))
    try:
        await asyncio.to_thread(
            ac.messages.create,
            model="tiny-go",
            max_tokens=5,
            messages=[{"role": "user", "content": "x"}],
            tools=[WEATHER_TOOL],
        )
    except anthropic.BadRequestError as err:
        assert "does not support tools" in str(err)
    else:
        raise AssertionError("tools were accepted by a model without the tools capability")


async def test_thinking_is_relaxed_on_a_model_that_cannot_think(models: Library, make_client: Any) -> None:
    ac = _client(await make_client(models))
    msg = await asyncio.to_thread(
        ac.messages.create,
        model="tiny",
        max_tokens=5,
        messages=[{"role": "user", "content": "hi"}],
        thinking={"type": "enabled", "budget_tokens": 1024},
    )
    assert msg.stop_reason in ("end_turn", "max_tokens") and msg.content


async def test_count_tokens_tokenizes_the_rendered_prompt(gemma: Library, make_client: Any) -> None:
    ac = _client(await make_client(gemma))

    def counts() -> tuple[int, int]:
        short = ac.messages.count_tokens(model="gemma", messages=[{"role": "user", "content": "hi"}])
        long = ac.messages.count_tokens(
            model="gemma",
            system="You are terse.",
            messages=[{"role": "user", "content": "hi " * 50}],
        )
        return short.input_tokens, long.input_tokens

    short, long = await asyncio.to_thread(counts)
    assert 0 < short < long and long >= 50
