"""The Anthropic Messages and OpenAI Responses bodies as Ollama chat requests, case by case as
Ollama's ``anthropic.FromMessagesRequest`` and ``openai.FromResponsesRequest`` convert them. Pure."""

from __future__ import annotations

import re
from typing import Any

import pytest

from registry import errors
from registry.modelserver.api.anthropic_request import estimate_input_tokens, messages_request
from registry.modelserver.api.responses_request import responses_request

IMAGE = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "aGk="}}


def _messages(**body: Any) -> Any:
    return messages_request({"model": "m", "max_tokens": 8, **body})


def test_system_blocks_join_and_come_first() -> None:
    req = _messages(
        system=[{"type": "text", "text": "a"}, {"type": "text", "text": "b"}],
        messages=[{"role": "user", "content": "hi"}],
    )
    assert req.messages == [{"role": "system", "content": "ab"}, {"role": "user", "content": "hi"}]
    assert req.body["options"] == {"num_predict": 8} and req.body["tools"] is None


def test_tool_results_come_before_the_user_turns_text_and_carry_the_calls_name() -> None:
    req = _messages(
        messages=[
            {"role": "user", "content": "weather?"},
            {
                "role": "assistant",
                "content": [
                    {"type": "text", "text": "checking"},
                    {"type": "tool_use", "id": "t1", "name": "get_weather", "input": {"city": "Oslo"}},
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "thanks"},
                    {
                        "type": "tool_result",
                        "tool_use_id": "t1",
                        "content": [{"type": "text", "text": "sunny"}],
                    },
                ],
            },
        ]
    )
    assert req.messages[1:] == [
        {
            "role": "assistant",
            "content": "checking",
            "tool_calls": [{"id": "t1", "function": {"name": "get_weather", "arguments": {"city": "Oslo"}}}],
        },
        {"role": "tool", "content": "sunny", "tool_call_id": "t1", "tool_name": "get_weather"},
        {"role": "user", "content": "thanks"},
    ]


def test_images_thinking_options_and_tools() -> None:
    req = _messages(
        messages=[{"role": "user", "content": [IMAGE, {"type": "text", "text": "what is it?"}]}],
        stop_sequences=["END"],
        temperature=0.2,
        top_k=3,
        thinking={"type": "enabled", "budget_tokens": 100},
        tools=[{"name": "f", "description": "d", "input_schema": {"type": "object"}}],
        tool_choice={"type": "tool", "name": "f"},
        stream=True,
    )
    assert req.messages == [{"role": "user", "content": "what is it?", "images": ["aGk="]}]
    assert req.body["options"] == {"num_predict": 8, "stop": ["END"], "temperature": 0.2, "top_k": 3}
    assert req.body["think"] is True and req.relax_thinking and req.stream
    assert req.body["tools"] == [
        {"type": "function", "function": {"name": "f", "description": "d", "parameters": {"type": "object"}}}
    ]
    assert req.body["format"]["properties"]["name"] == {"enum": ["f"]}
    assert (
        _messages(
            messages=[{"role": "user", "content": "x"}],
            tools=[{"name": "f", "input_schema": {"type": "object"}}],
            tool_choice={"type": "none"},
        ).body["tools"]
        is None
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"max_tokens": 8, "messages": [{"role": "user", "content": "x"}]}, "model is required"),
        (
            {"model": "m", "messages": [{"role": "user", "content": "x"}]},
            "max_tokens is required and must be positive",
        ),
        ({"model": "m", "max_tokens": True, "messages": []}, "max_tokens is required and must be positive"),
        ({"model": "m", "max_tokens": 8, "messages": []}, "messages is required"),
        (
            {
                "model": "m",
                "max_tokens": 8,
                "messages": [{"role": "user", "content": [{"type": "tool_use", "name": "f"}]}],
            },
            "tool_use block missing required 'id' field",
        ),
        (
            {
                "model": "m",
                "max_tokens": 8,
                "messages": [
                    {"role": "user", "content": [{"type": "image", "source": {"type": "url", "url": "x"}}]}
                ],
            },
            "invalid image source type: url. Only base64 images are supported.",
        ),
        (
            {
                "model": "m",
                "max_tokens": 8,
                "messages": [{"role": "user", "content": "x"}],
                "tools": [{"type": "web_search_20250305", "name": "web_search"}],
            },
            "tool type 'web_search_20250305' is not supported by this server (web search runs on ollama.com)",
        ),
        (
            {"model": "m", "max_tokens": 8, "messages": [{"role": "user", "content": 5}]},
            "invalid message content",
        ),
    ],
)
def test_messages_mistakes(body: dict[str, Any], message: str) -> None:
    with pytest.raises(errors.InvalidInput, match="^" + re.escape(message)):
        messages_request(body)


def test_input_token_estimate_is_ollamas() -> None:
    body = {"system": "abcd", "messages": [{"role": "user", "content": "abcdefgh"}]}
    assert estimate_input_tokens(body) == (4 + 4 + 8) // 4
    assert estimate_input_tokens({"messages": [{"role": "u", "content": ""}]}) == 1


def test_responses_items_merge_as_ollama() -> None:
    req = responses_request(
        {
            "model": "m",
            "instructions": "be brief",
            "input": [
                {"role": "user", "content": "weather?"},
                {"type": "reasoning", "encrypted_content": "I should call"},
                {
                    "type": "function_call",
                    "call_id": "c1",
                    "name": "get_weather",
                    "arguments": '{"city": "Oslo"}',
                },
                {"type": "function_call_output", "call_id": "c1", "output": "sunny"},
                {
                    "type": "message",
                    "role": "assistant",
                    "content": [{"type": "output_text", "text": "It is sunny."}],
                },
            ],
            "max_output_tokens": 5,
            "top_p": 0.5,
        }
    )
    assert req.messages == [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "weather?"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [{"id": "c1", "function": {"name": "get_weather", "arguments": {"city": "Oslo"}}}],
            "thinking": "I should call",
        },
        {"role": "tool", "content": "sunny", "tool_call_id": "c1", "tool_name": "get_weather"},
        {"role": "assistant", "content": "It is sunny."},
    ]
    assert req.body["options"] == {"temperature": 1.0, "top_p": 0.5, "num_predict": 5}
    assert not req.stream


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"input": "x"}, "model is required"),
        (
            {"model": "m", "input": "x", "previous_response_id": "resp_1"},
            "previous_response_id is not supported",
        ),
        ({"model": "m", "input": 5}, "input must be a string or array"),
        ({"model": "m", "input": [{"content": "x"}]}, "input[0]: input item missing required 'type' field"),
        ({"model": "m", "input": [{"type": "function_call", "name": "f", "arguments": "{"}]}, "invalid JSON"),
        (
            {"model": "m", "input": "x", "tools": [{"type": "web_search"}]},
            "invalid tools[0]: tool type 'web_search'",
        ),
        ({"model": "m", "input": "x", "tool_choice": "required"}, "tool_choice 'required' needs tools"),
        ({"model": "m", "input": "x", "reasoning": {"effort": "huge"}}, "invalid reasoning value"),
        (
            {"model": "m", "input": [{"role": "user", "content": [{"type": "input_file"}]}]},
            "file inputs are not",
        ),
    ],
)
def test_responses_mistakes(body: dict[str, Any], message: str) -> None:
    with pytest.raises(errors.InvalidInput) as caught:
        responses_request(body)
    assert message in str(caught.value)
