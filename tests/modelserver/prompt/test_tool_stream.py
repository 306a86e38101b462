"""The streaming tool-call splitter: text goes out as soon as it cannot open a tool call, a call is
held whole, whatever the chunking (every split position is tried)."""

from __future__ import annotations

from registry.modelserver.prompt import ToolCallStream

NAMES = ["get_weather"]
CALL = '{"name": "get_weather", "arguments": {"city": "Paris"}}'


def _run(chunks: list[str]) -> tuple[list[str], list[str], str]:
    stream = ToolCallStream(NAMES)
    sent = [stream.feed(c) for c in chunks]
    calls, rest = stream.finish()
    return sent, [c["function"]["name"] for c in calls], rest


def _splits(text: str) -> list[list[str]]:
    return [[text[:i], text[i:]] for i in range(len(text) + 1)] + [list(text)]


def test_plain_text_is_sent_as_it_comes() -> None:
    sent, calls, rest = _run(["The weather ", "is hot ", "today."])
    assert sent == ["The weather ", "is hot ", "today."] and calls == [] and rest == ""


def test_text_then_a_marked_call_at_every_split() -> None:
    text = f"Let me look.<tool_call>{CALL}</tool_call>"
    for chunks in _splits(text):
        sent, calls, rest = _run(chunks)
        assert "".join(sent) == "Let me look." and calls == ["get_weather"] and rest == "", chunks


def test_a_bare_json_call_first_is_held_whole() -> None:
    for chunks in _splits(f"  {CALL}"):
        sent, calls, rest = _run(chunks)
        assert "".join(sent).strip() == "" and calls == ["get_weather"] and rest == "", chunks


def test_a_marker_prefix_is_held_only_until_it_cannot_be_one() -> None:
    stream = ToolCallStream(NAMES)
    assert stream.feed("a <tool") == "a "
    assert stream.feed("s are fun") == "<tools are fun"
    assert stream.finish() == ([], "")


def test_json_after_text_is_text_and_a_failed_call_is_sent_as_text() -> None:
    sent, calls, rest = _run(["Here: ", '{"a": 1}'])
    assert "".join(sent) == 'Here: {"a": 1}' and calls == []
    sent, calls, rest = _run(["<tool_call>", "not json"])
    assert sent == ["", ""] and calls == [] and rest == "<tool_call>not json"
