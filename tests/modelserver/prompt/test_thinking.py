"""Thinking: the tags Ollama infers from a template, and the streaming parser that splits a reply
at them whatever the chunking (every split position, and arbitrary chunkings by hypothesis)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from registry.modelserver.prompt import (
    PromptTemplate,
    ReplyStream,
    ThinkingParser,
    ToolCallStream,
    drop_earlier_thinking,
)

#: Ollama's qwen3 template, abridged to its thinking parts.
QWEN3 = (
    "{{- if .System }}<|im_start|>system\n{{ .System }}<|im_end|>\n{{ end }}"
    "{{- range $i, $_ := .Messages }}"
    "{{- $last := eq (len (slice $.Messages $i)) 1 -}}"
    '{{- if eq .Role "user" }}<|im_start|>user\n{{ .Content }}<|im_end|>\n'
    '{{- else if eq .Role "assistant" }}<|im_start|>assistant\n'
    "{{ if (and $.IsThinkSet (and .Thinking (or $last (gt $i 0)))) -}}\n"
    "<think>{{ .Thinking }}</think>\n"
    "{{ end -}}{{ .Content }}{{- if not $last }}<|im_end|>\n{{ end }}"
    "{{- end }}{{- end }}"
    "<|im_start|>assistant\n{{ if and $.IsThinkSet (not $.Think) }}<think>\n\n</think>\n\n{{ end }}"
)


def _split_all(parser: ThinkingParser, chunks: list[str]) -> tuple[str, str]:
    thinking, content = [], []
    for chunk in chunks:
        t, c = parser.add(chunk)
        thinking.append(t)
        content.append(c)
    t, c = parser.flush()
    return "".join(thinking) + t, "".join(content) + c


def _chunked(text: str, cuts: list[int]) -> list[str]:
    points = sorted({c % (len(text) + 1) for c in cuts})
    return [text[a:b] for a, b in zip([0, *points], [*points, len(text)], strict=True)]


@pytest.mark.parametrize(
    ("source", "tags"),
    [
        (QWEN3, ("<think>", "</think>")),
        (
            "{{ range .Messages }}{{ if .Thinking }}<think>{{ .Thinking }}</think>{{ end }}{{ end }}",
            ("<think>", "</think>"),
        ),
        (
            "{{ range .Messages }}{{ if .Thinking }}Some text before   {{ .Thinking }}  after{{ end }}{{ end }}",
            ("Some text before", "after"),
        ),
        ("{{ if .Thinking }}<think>{{ .Thinking }}</think>{{ end }}", ("", "")),  # not in .Messages
        ("{{ range .Messages }}{{ range .Other }}<t>{{ .Thinking }}</t>{{ end }}{{ end }}", ("", "")),
        ("{{ range .Messages }}{{ .Content }}{{ end }}", ("", "")),
    ],
)
def test_tags_are_inferred_as_ollama_does(source: str, tags: tuple[str, str]) -> None:
    assert PromptTemplate.from_go(source).thinking_tags == tags


def test_the_template_gets_ollamas_thinking_values() -> None:
    template = PromptTemplate.from_go(QWEN3)
    user = [{"role": "user", "content": "hi"}]
    assert template.render_chat(user, think=False).endswith("<think>\n\n</think>\n\n")
    assert template.render_chat(user, think=True).endswith("<|im_start|>assistant\n")
    history = [*user, {"role": "assistant", "content": "yes", "thinking": "hmm"}, *user]
    assert "<think>hmm</think>\nyes" in template.render_chat(history, think=True)
    levels = PromptTemplate.from_go("{{ .Think }} {{ .ThinkLevel }} {{ .IsThinkSet }}")
    assert levels.render_generate("x", think="high") == "true high true"
    assert levels.render_generate("x", think=True) == "true medium true"
    assert levels.render_generate("x") == "false  false"


def test_a_reply_without_the_opening_tag_is_all_content() -> None:
    assert _split_all(ThinkingParser("<think>", "</think>"), ["  Hello", " there"]) == ("", "  Hello there")


def test_whitespace_after_each_tag_is_eaten() -> None:
    parser = ThinkingParser("<think>", "</think>")
    assert parser.add("<think>\n\n") == ("", "")
    assert parser.add("I ponder") == ("I ponder", "")
    assert parser.add("</th") == ("", "")
    assert parser.add("ink>\n\n") == ("", "")
    assert parser.thinking_done
    assert parser.add("Answer") == ("", "Answer")


def test_every_split_of_a_reply() -> None:
    text = "\n<think>\nstep one < two </think>\n\nThe answer </think> is 4."
    for i in range(len(text) + 1):
        for j in range(i, len(text) + 1):
            got = _split_all(ThinkingParser("<think>", "</think>"), [text[:i], text[i:j], text[j:]])
            assert got == ("step one < two ", "The answer </think> is 4."), (i, j)


@settings(max_examples=400, deadline=None)
@given(
    thinking=st.text(alphabet="ab <>/thinkTHINK\n", max_size=20).filter(lambda t: "</think>" not in t),
    content=st.text(alphabet="ab <>/think\n", max_size=20),
    opened=st.booleans(),
    cuts=st.lists(st.integers(min_value=0, max_value=200), max_size=15),
)
def test_property_any_chunking_gives_the_same_split(
    thinking: str, content: str, opened: bool, cuts: list[int]
) -> None:
    """However the stream is cut (also through the tags), the thinking and the content come out
    as when the reply is fed whole, and as the definition: the text between the tags with the
    whitespace after each tag eaten."""
    text = ("" if opened else "<think>") + thinking + "</think>" + content
    whole = ThinkingParser("<think>", "</think>")
    if opened:
        whole.add("<think>")
    expected = _split_all(whole, [text])
    parser = ThinkingParser("<think>", "</think>")
    if opened:
        parser.add("<think>")
    assert _split_all(parser, _chunked(text, cuts)) == expected
    assert expected == (thinking.lstrip(), content.lstrip())


def test_thinking_then_a_tool_call() -> None:
    call = '{"name": "f", "arguments": {}}'
    text = f"<think>need f</think>Calling.<tool_call>{call}</tool_call>"
    for i in range(len(text) + 1):
        reply = ReplyStream(ThinkingParser("<think>", "</think>"), ToolCallStream(["f"]))
        pieces = [reply.feed(text[:i]), reply.feed(text[i:]), reply.finish()]
        assert "".join(p.thinking for p in pieces) == "need f"
        assert "".join(p.content for p in pieces) == "Calling."
        assert [c["function"]["name"] for p in pieces for c in p.calls] == ["f"]


def test_earlier_think_blocks_are_dropped_for_qwen3_and_deepseek_r1() -> None:
    messages = [
        {"role": "user", "content": "a"},
        {"role": "assistant", "content": "<think>hmm</think>\n\nYes."},
        {"role": "assistant", "content": "<thi"},
        {"role": "user", "content": "b"},
        {"role": "assistant", "content": "<think>kept</think>after the last user message"},
    ]
    for family, model in (("qwen3", "anything"), ("llama", "deepseek-r1")):
        got = drop_earlier_thinking(messages, family=family, model=model)
        assert [m["content"] for m in got] == ["a", "Yes.", "<thi", "b", messages[4]["content"]]
    assert drop_earlier_thinking(messages, family="llama", model="llama3") == messages
