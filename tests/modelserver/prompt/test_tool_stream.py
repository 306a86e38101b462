"""The streaming tool-call splitter: text goes out as soon as it cannot open a tool call, each call
is sent once its JSON is complete and none of its text leaks into the content, whatever the
chunking (every split position is tried, and hypothesis tries arbitrary chunkings)."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from registry.modelserver.prompt import PromptTemplate, ToolCallStream

NAMES = ["get_weather", "get_time"]
CALL = '{"name": "get_weather", "arguments": {"city": "Paris"}}'
CALL2 = '{"name": "get_time", "arguments": {"zone": "CET {x}"}}'


def _run(chunks: list[str], tag: str | None = None) -> tuple[list[str], list[dict[str, Any]], str]:
    stream = ToolCallStream(NAMES, tag)
    sent: list[str] = []
    calls: list[dict[str, Any]] = []
    for chunk in chunks:
        text, new = stream.feed(chunk)
        sent.append(text)
        calls += new
    more, rest = stream.finish()
    return sent, calls + more, rest


def _names(calls: list[dict[str, Any]]) -> list[str]:
    return [c["function"]["name"] for c in calls]


def _splits(text: str) -> list[list[str]]:
    return [[text[:i], text[i:]] for i in range(len(text) + 1)] + [list(text)]


def _chunked(text: str, cuts: list[int]) -> list[str]:
    points = sorted({c % (len(text) + 1) for c in cuts})
    return [text[a:b] for a, b in zip([0, *points], [*points, len(text)], strict=True)]


def test_plain_text_is_sent_as_it_comes() -> None:
    sent, calls, rest = _run(["The weather ", "is hot ", "today."])
    assert sent == ["The weather ", "is hot ", "today."] and calls == [] and rest == ""


def test_text_then_a_marked_call_at_every_split() -> None:
    text = f"Let me look.<tool_call>{CALL}</tool_call>"
    for chunks in _splits(text):
        sent, calls, rest = _run(chunks)
        assert "".join(sent) == "Let me look." and _names(calls) == ["get_weather"] and rest == "", chunks


def test_a_bare_json_call_first_is_held_whole() -> None:
    for chunks in _splits(f"  {CALL}"):
        sent, calls, rest = _run(chunks)
        assert "".join(sent).strip() == "" and _names(calls) == ["get_weather"] and rest == "", chunks


def test_a_marker_prefix_is_held_only_until_it_cannot_be_one() -> None:
    stream = ToolCallStream(NAMES)
    assert stream.feed("a <tool") == ("a ", [])
    assert stream.feed("s are fun") == ("<tools are fun", [])
    assert stream.finish() == ([], "")


def test_json_after_text_is_text_and_a_failed_call_is_sent_as_text() -> None:
    sent, calls, rest = _run(["Here: ", '{"a": 1}'])
    assert "".join(sent) == 'Here: {"a": 1}' and calls == []
    sent, calls, rest = _run(["<tool_call>", "not json"])
    assert sent == ["", ""] and calls == [] and rest == "<tool_call>not json"


def test_each_call_is_sent_when_its_json_closes() -> None:
    stream = ToolCallStream(NAMES)
    assert stream.feed("<tool_call>" + CALL[:-1]) == ("", [])
    text, calls = stream.feed("}</tool_call><tool_call>" + CALL2[:10])
    assert text == "" and _names(calls) == ["get_weather"] and calls[0]["function"]["index"] == 0
    text, calls = stream.feed(CALL2[10:] + "</tool_call>")
    assert _names(calls) == ["get_time"] and calls[0]["function"]["index"] == 1
    assert calls[0]["function"]["arguments"] == {"zone": "CET {x}"}
    assert stream.finish() == ([], "")


def test_the_templates_tag_opens_a_call() -> None:
    template = PromptTemplate.from_go(
        "{{ range .Messages }}{{ .Content }}{{ if .ToolCalls }}<|tool▁calls|>"
        "{{ range .ToolCalls }}{{ json .Function }}{{ end }}{{ end }}{{ end }}"
    )
    assert template.tool_call_tag == "<|tool▁calls|>"
    assert PromptTemplate.from_go("{{ .Prompt }}").tool_call_tag == "{"
    text = f"Sure. <|tool▁calls|>{CALL}"
    for chunks in _splits(text):
        sent, calls, rest = _run(chunks, template.tool_call_tag)
        assert "".join(sent) == "Sure. " and _names(calls) == ["get_weather"] and rest == "", chunks


@settings(max_examples=300, deadline=None)
@given(
    before=st.text(alphabet="ab <>{}[]_`\n", max_size=12),
    marker=st.sampled_from(["<tool_call>", "[TOOL_CALLS]", "<|python_tag|>", "<call>"]),
    cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=12),
)
def test_property_calls_never_leak_into_content(before: str, marker: str, cuts: list[int]) -> None:
    """Whatever text comes first and however the stream is cut, the text before the marker is sent
    (at most held, never changed), both calls come out in order, and no text of them is content."""
    before = before.replace("{", "").replace("[", "")  # a bare JSON opening would be a call
    for m in ("<tool_call>", "[TOOL_CALLS]", "<|python_tag|>", "<call>", "```"):
        before = before.replace(m[:3], "")
    text = f"{before}{marker}{CALL}\n{marker}{CALL2}"
    sent, calls, rest = _run(_chunked(text, cuts), tag="<call>")
    content = "".join(sent) + rest
    assert content == before
    assert _names(calls) == ["get_weather", "get_time"]
    assert [c["function"]["index"] for c in calls] == [0, 1]
    assert "get_" not in content
