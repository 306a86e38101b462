"""gpt-oss's harmony format: the header parser (Ollama's ``parseHeader`` cases), the streaming
splitter's thinking/content/tool-call separation whatever the chunking (every split position of
whole replies, and arbitrary chunkings and replies by hypothesis), tool-name mapping, and the choice
of the harmony parser by :func:`reply_stream`."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from registry.modelserver.api.inference import reply_stream
from registry.modelserver.prompt import (
    HarmonyError,
    HarmonyStream,
    PromptTemplate,
    harmony_tool_names,
    uses_harmony,
)
from registry.modelserver.prompt.harmony import PRESERVED_TOKENS, HarmonyHeader, parse_header
from registry.modelserver.prompt.tools import ToolCall

#: A reply as gpt-oss writes it after a prompt ending ``<|start|>assistant``.
REPLY = (
    "<|channel|>analysis<|message|>The user greets. Answer briefly.<|end|>"
    "<|start|>assistant<|channel|>final<|message|>Hello! How can I help?"
)
TOOL_REPLY = (
    "<|channel|>analysis<|message|>Need the weather.<|end|>"
    '<|start|>assistant<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>{"city": "Paris"}'
)
TWO_CALLS = (
    "<|channel|>analysis<|message|>Two lookups.<|end|>"
    '<|start|>assistant<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>{"city": "Paris"}<|call|>'
    '<|start|>assistant to=functions.get_time<|channel|>commentary json<|message|>{"tz": "CET"}<|end|>'
    "<|start|>assistant<|channel|>final<|message|>Both asked."
)

#: A harmony Go template (the markers Ollama looks for, and a reply opened for the model).
HARMONY_TEMPLATE = (
    "{{- range .Messages }}<|start|>{{ .Role }}<|message|>{{ .Content }}<|end|>{{ end }}<|start|>assistant"
)


def _run(chunks: list[str], **kwargs: Any) -> tuple[str, str, list[ToolCall]]:
    stream = HarmonyStream(**kwargs)
    thinking, content, calls = [], [], []
    for chunk in chunks:
        t, c, k = stream.feed(chunk)
        thinking.append(t)
        content.append(c)
        calls += k
    t, c, k = stream.finish()
    return "".join(thinking) + t, "".join(content) + c, calls + k


def _calls(calls: list[ToolCall]) -> list[tuple[int, str, dict[str, Any]]]:
    return [(c["function"]["index"], c["function"]["name"], c["function"]["arguments"]) for c in calls]


@pytest.mark.parametrize(
    ("raw", "header"),
    [
        ("assistant", HarmonyHeader(role="assistant")),
        ("assistant<|channel|>analysis", HarmonyHeader(role="assistant", channel="analysis")),
        (
            "assistant<|channel|>commentary to=functions.get_weather <|constrain|>json",
            HarmonyHeader(role="assistant", channel="commentary", recipient="functions.get_weather"),
        ),
        (
            "assistant to=functions.get_weather<|channel|>commentary<|constrain|>json",
            HarmonyHeader(role="assistant", channel="commentary", recipient="functions.get_weather"),
        ),
        (
            "to=functions.x<|channel|>commentary",
            HarmonyHeader(role="tool", channel="commentary", recipient="functions.x"),
        ),
        ("<|channel|>final", HarmonyHeader(channel="final")),
    ],
)
def test_headers_are_parsed_as_ollama_does(raw: str, header: HarmonyHeader) -> None:
    assert parse_header(raw) == header


def test_analysis_is_thinking_and_final_is_content_at_every_split() -> None:
    for i in range(len(REPLY) + 1):
        for j in range(i, len(REPLY) + 1, 7):
            assert _run([REPLY[:i], REPLY[i:j], REPLY[j:]])[:2] == (
                "The user greets. Answer briefly.",
                "Hello! How can I help?",
            )


def test_a_tool_call_is_sent_when_the_reply_ends_at_every_split() -> None:
    for i in range(len(TOOL_REPLY) + 1):
        thinking, content, calls = _run([TOOL_REPLY[:i], TOOL_REPLY[i:]])
        assert (thinking, content) == ("Need the weather.", "")
        assert _calls(calls) == [(0, "get_weather", {"city": "Paris"})]


def test_each_tool_message_is_a_call_sent_as_soon_as_it_ends() -> None:
    stream = HarmonyStream()
    end_of_first = TWO_CALLS.index("<|call|>") + len("<|call|>")
    thinking, content, calls = stream.feed(TWO_CALLS[:end_of_first])
    assert (thinking, content) == ("Two lookups.", "")
    assert _calls(calls) == [(0, "get_weather", {"city": "Paris"})]
    for i in range(len(TWO_CALLS) + 1):
        thinking, content, calls = _run([TWO_CALLS[:i], TWO_CALLS[i:]])
        assert (thinking, content) == ("Two lookups.", "Both asked.")
        assert _calls(calls) == [(0, "get_weather", {"city": "Paris"}), (1, "get_time", {"tz": "CET"})]
        assert all(c["id"].startswith("call_") for c in calls)


def test_one_character_at_a_time() -> None:
    thinking, content, calls = _run(list(TWO_CALLS))
    assert (thinking, content, len(calls)) == ("Two lookups.", "Both asked.", 2)


def test_text_outside_messages_and_stray_headers_never_reach_the_client() -> None:
    reply = (
        "<|channel|>final<|message|>Hi<|end|>stray words<|start|>assistant<|channel|>final<|message|> there"
    )
    assert _run([reply])[:2] == ("", "Hi there")
    # a header that never ends is dropped with the reply
    assert _run(["<|channel|>analysis<|mess"]) == ("", "", [])


def test_commentary_without_recipient_is_content() -> None:
    reply = "<|channel|>commentary<|message|>Let me check.<|end|><|start|>assistant<|channel|>final<|message|>Done."
    assert _run([reply])[:2] == ("", "Let me check.Done.")


def test_a_partial_marker_at_the_end_of_a_body_is_its_text() -> None:
    assert _run(["<|channel|>final<|message|>a <|en"]) == ("", "a <|en", [])


def test_a_prefilled_assistant_message_continues_in_its_channel() -> None:
    assert _run(["more<|end|>"], prefill={"role": "assistant", "content": "Hel"})[:2] == ("", "more")
    assert _run(["more<|end|>"], prefill={"role": "assistant", "thinking": "Hmm"})[:2] == ("more", "")
    assert _run(["<|channel|>final<|message|>x"], prefill={"role": "user", "content": "q"})[:2] == ("", "x")


def test_a_tool_call_whose_arguments_are_not_json_is_an_error() -> None:
    stream = HarmonyStream()
    stream.feed("<|channel|>commentary to=functions.f<|message|>{not json")
    with pytest.raises(HarmonyError, match="error parsing tool call"):
        stream.finish()
    with pytest.raises(HarmonyError, match="not a JSON object"):
        _run(["<|channel|>commentary to=functions.f<|message|>[1]<|end|>"])


def test_tool_names_are_made_valid_and_mapped_back() -> None:
    tools = [
        {"type": "function", "function": {"name": "get-weather"}},
        {"type": "function", "function": {"name": "get.weather"}},
        {"type": "function", "function": {"name": "1st"}},
        {"type": "function", "function": {"name": "browser.search"}},
    ]
    shown, back = harmony_tool_names(tools)
    assert shown is not None
    assert [t["function"]["name"] for t in shown] == [
        "get_weather",
        "get_weather_2",
        "_1st",
        "browser.search",
    ]
    assert tools[0]["function"]["name"] == "get-weather"  # copies
    reply = "<|channel|>commentary to=functions.get_weather_2<|message|>{}<|end|>"
    assert _calls(_run([reply], tool_names=back)[2]) == [(0, "get.weather", {})]
    assert harmony_tool_names(None) == (None, {})


def test_the_harmony_parser_is_chosen_for_gpt_oss_with_a_harmony_template_whatever_think() -> None:
    template = PromptTemplate.from_go(HARMONY_TEMPLATE)
    assert uses_harmony("gptoss", template.source) and uses_harmony("gpt-oss", template.source)
    assert not uses_harmony("llama", template.source)
    assert not uses_harmony("gptoss", "{{ .Prompt }}")
    # a model whose config names a parser: harmony for ``harmony`` whatever the family, else not
    assert uses_harmony("llama", "{{ .Prompt }}", "harmony")
    assert not uses_harmony("gptoss", template.source, "qwen3-coder")
    for think in (True, False, "low", None):
        reply = reply_stream(template, "", think, family="gptoss")
        assert reply.harmony is not None and reply.preserved_tokens == PRESERVED_TOKENS
        assert not reply.plain
        piece = reply.feed(REPLY)
        assert (piece.thinking, piece.content) == (
            "The user greets. Answer briefly.",
            "Hello! How can I help?",
        )
    plain = reply_stream(template, "", False, family="llama")
    assert plain.harmony is None and plain.plain and plain.preserved_tokens == ()


_TEXT = st.text(alphabet=st.sampled_from("ab {}<|>\n"), max_size=12).filter(
    lambda t: all(m not in t for m in ("<|start|>", "<|end|>", "<|call|>", "<|return|>", "<|message|>"))
)
_MESSAGE = st.one_of(
    st.tuples(st.just("analysis"), _TEXT),
    st.tuples(st.just("final"), _TEXT),
    st.tuples(st.just("commentary"), _TEXT),
    st.tuples(
        st.sampled_from(["f", "g_2"]), st.dictionaries(st.sampled_from("xyz"), st.integers(), max_size=2)
    ),
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(_MESSAGE, min_size=1, max_size=5),
    st.lists(st.integers(min_value=0, max_value=400), max_size=8),
    st.sampled_from(["<|end|>", "<|call|>"]),
)
def test_any_reply_splits_the_same_whatever_the_chunking(
    messages: list[tuple[str, Any]], cuts: list[int], tool_end: str
) -> None:
    parts: list[str] = []
    thinking, content, calls = [], [], []
    for channel, body in messages:
        if isinstance(body, dict):
            parts.append(
                f"<|channel|>commentary to=functions.{channel} <|constrain|>json<|message|>{json.dumps(body)}{tool_end}"
            )
            calls.append((len(calls), channel, body))
        else:
            parts.append(f"<|channel|>{channel}<|message|>{body}<|end|>")
            (thinking if channel == "analysis" else content).append(body)
    reply = "<|start|>assistant".join(parts)
    points = sorted({min(c, len(reply)) for c in cuts})
    chunks = [reply[a:b] for a, b in zip([0, *points], [*points, len(reply)], strict=True)]
    got_thinking, got_content, got_calls = _run(chunks)
    assert got_thinking == "".join(thinking)
    assert got_content == "".join(content)
    assert _calls(got_calls) == calls
    assert not any(m in got_content + got_thinking for m in ("<|channel|>", "<|message|>", "<|start|>"))
