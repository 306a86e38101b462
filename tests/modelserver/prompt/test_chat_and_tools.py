"""Prompt assembly (Jinja sandbox, Go templates with and without .Messages) and tool-call parsing."""

from __future__ import annotations

import pytest

from registry.modelserver.prompt import PromptTemplate, TemplateError, parse_tool_calls
from tests.support.tiny_gguf import CHAT_TEMPLATE

MESSAGES = [
    {"role": "system", "content": "S"},
    {"role": "user", "content": "q1"},
    {"role": "assistant", "content": "r1"},
    {"role": "user", "content": "q2"},
]


def test_gguf_jinja_template_is_the_default() -> None:
    t = PromptTemplate.for_model(None, CHAT_TEMPLATE, bos="<s>")
    assert t.kind == "jinja"
    assert (
        t.render_chat(MESSAGES)
        == "<|system|>S</s><|user|>q1</s><|assistant|>r1</s><|user|>q2</s><|assistant|>"
    )
    assert t.render_generate("hi", system="S") == "<|system|>S</s><|user|>hi</s><|assistant|>"


def test_modelfile_template_wins_over_gguf() -> None:
    assert PromptTemplate.for_model("{{ .Prompt }}", CHAT_TEMPLATE).kind == "go"


def test_jinja_sandbox_blocks_python_internals() -> None:
    t = PromptTemplate.for_model(None, "{{ messages.__class__.__mro__[1].__subclasses__() }}")
    with pytest.raises(TemplateError):
        t.render_chat(MESSAGES)


def test_jinja_raise_exception_and_bad_syntax() -> None:
    t = PromptTemplate.for_model(None, "{{ raise_exception('no system allowed') }}")
    with pytest.raises(TemplateError, match="no system allowed"):
        t.render_chat(MESSAGES)
    with pytest.raises(TemplateError):
        PromptTemplate.for_model(None, "{% for %}")


def test_legacy_go_template_renders_each_turn_and_cuts_at_response() -> None:
    t = PromptTemplate.for_model(
        "{{ if .System }}<s>{{ .System }}</s>{{ end }}<u>{{ .Prompt }}</u><a>{{ .Response }}</a>", None
    )
    assert t.render_chat(MESSAGES) == "<s>S</s><u>q1</u><a>r1</a><s>S</s><u>q2</u><a>"
    assert t.render_generate("hi") == "<u>hi</u><a>"


def test_default_template_is_the_prompt() -> None:
    t = PromptTemplate.for_model(None, None)
    assert t.render_generate("just this") == "just this"


def test_tool_calls_found_in_common_shapes() -> None:
    names = ["get_weather", "add"]
    for text in (
        '<tool_call>{"name": "get_weather", "arguments": {"city": "Paris"}}</tool_call>',
        '[TOOL_CALLS][{"name": "get_weather", "arguments": {"city": "Paris"}}]',
        '```json\n{"function": {"name": "get_weather", "parameters": {"city": "Paris"}}}\n```',
        '{"name": "get_weather", "arguments": "{\\"city\\": \\"Paris\\"}"}',
    ):
        calls, rest = parse_tool_calls(text, names)
        assert [c["function"]["name"] for c in calls] == ["get_weather"], text
        assert calls[0]["function"]["arguments"] == {"city": "Paris"} and rest == ""
    calls, _ = parse_tool_calls(
        '{"name": "add", "arguments": {"a": 1}} {"name": "add", "arguments": {"a": 2}}', names
    )
    assert [c["function"]["index"] for c in calls] == [0, 1]


def test_text_without_known_tools_is_left_alone() -> None:
    text = 'Here is JSON: {"name": "unknown", "arguments": {}} ok'
    assert parse_tool_calls(text, ["get_weather"]) == ([], text)
    assert parse_tool_calls("plain { not json", ["x"]) == ([], "plain { not json")
