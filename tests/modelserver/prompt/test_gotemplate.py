"""The Go template subset: Ollama library templates, trimming, functions, and clear errors."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from registry.modelserver.prompt.gotemplate import JsonValue, TemplateError, parse
from tests.support.gguf_models import GEMMA3_TEMPLATE

LLAMA31_TOOLS = """{{- if or .System .Tools }}<|start_header_id|>system<|end_header_id|>
{{- if .System }}

{{ .System }}
{{- end }}
{{- if .Tools }}

You have tools:{{ range .Tools }}
{{ . }}{{ end }}
{{- end }}<|eot_id|>
{{- end }}
{{- range $i, $_ := .Messages }}
{{- $last := eq (len (slice $.Messages $i)) 1 }}
{{- if eq .Role "user" }}<|start_header_id|>user<|end_header_id|>

{{ .Content }}<|eot_id|>{{ if $last }}<|start_header_id|>assistant<|end_header_id|>

{{ end }}
{{- else if eq .Role "assistant" }}<|start_header_id|>assistant<|end_header_id|>
{{- if .ToolCalls }}
{{ range .ToolCalls }}{"name": "{{ .Function.Name }}", "parameters": {{ .Function.Arguments }}}{{ end }}
{{- else }}

{{ .Content }}
{{- end }}{{ if not $last }}<|eot_id|>{{ end }}
{{- else if eq .Role "tool" }}<|start_header_id|>ipython<|end_header_id|>

{{ .Content }}<|eot_id|>{{ if $last }}<|start_header_id|>assistant<|end_header_id|>

{{ end }}
{{- end }}
{{- end }}"""


def test_gemma3_library_template() -> None:
    out = parse(GEMMA3_TEMPLATE).execute(
        {
            "Messages": [
                {"Role": "user", "Content": "hi"},
                {"Role": "assistant", "Content": "yo"},
                {"Role": "user", "Content": "again"},
            ]
        }
    )
    assert out == (
        "<start_of_turn>user\nhi<end_of_turn>\n<start_of_turn>model\nyo<end_of_turn>\n"
        "<start_of_turn>user\nagain<end_of_turn>\n<start_of_turn>model\n"
    )


def test_llama31_template_with_tools_and_tool_calls() -> None:
    data = {
        "System": "sys",
        "Tools": [JsonValue({"type": "function", "function": {"name": "f"}})],
        "Messages": [
            {"role": "user", "content": "q"},
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [{"function": {"name": "f", "arguments": JsonValue({"a": 1})}}],
            },
            {"role": "tool", "content": "42"},
        ],
    }
    out = parse(LLAMA31_TOOLS).execute(data)
    assert '{"type":"function","function":{"name":"f"}}' in out
    assert '{"name": "f", "parameters": {"a":1}}' in out
    assert out.endswith(
        "<|start_header_id|>ipython<|end_header_id|>\n\n42<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"
    )


@pytest.mark.parametrize(
    ("source", "data", "expected"),
    [
        ("a {{- ' ' -}} b", {}, None),
        ("a  {{- .X -}}  b", {"X": "x"}, "axb"),
        ("{{ if .A }}1{{ else if .B }}2{{ else }}3{{ end }}", {"B": True}, "2"),
        ("{{ with .A }}{{ .B }}{{ else }}none{{ end }}", {"A": {"B": "in"}}, "in"),
        ("{{ range $i, $v := .L }}{{ $i }}={{ $v }};{{ else }}empty{{ end }}", {"L": ["a", "b"]}, "0=a;1=b;"),
        ("{{ range .L }}x{{ else }}empty{{ end }}", {"L": []}, "empty"),
        ('{{ printf "%s/%d/%q" .S 3 "q" }}', {"S": "s"}, 's/3/"q"'),
        ("{{ and .A .B }}|{{ or .A .B }}|{{ not .A }}", {"A": 0, "B": "b"}, "0|b|true"),
        ('{{ eq .R "a" "b" }} {{ ne 1 2 }} {{ lt 1 2 }} {{ ge 1 2 }}', {"R": "b"}, "true true true false"),
        ("{{ len .L }} {{ index .L 1 }} {{ slice .L 1 }}", {"L": [1, 2, 3]}, "3 2 [2 3]"),
        ("{{ json .M }}", {"M": {"k": [1, "x"]}}, '{"k":[1,"x"]}'),
        ("{{ $x := 1 }}{{ $x = 2 }}{{ $x }}", {}, "2"),
        ('{{ .A | printf "<%s>" }}', {"A": "p"}, "<p>"),
        ("{{/* a comment */}}ok", {}, "ok"),
        ("{{ (index .L 0).Name }}", {"L": [{"Name": "n"}]}, "n"),
    ],
)
def test_actions(source: str, data: dict[str, object], expected: str | None) -> None:
    if expected is None:
        with pytest.raises(TemplateError):
            parse(source)
        return
    assert parse(source).execute(data) == expected


@pytest.mark.parametrize(
    "source",
    [
        "{{ if .X }}",
        "{{ end }}",
        "{{ nofunc .X }}",
        "{{ .X",
        '{{ template "x" }}',
        "{{ if .X }}{{ else }}{{ else }}{{ end }}",
    ],
)
def test_parse_errors_are_clear(source: str) -> None:
    with pytest.raises(TemplateError, match="template"):
        parse(source)


@given(st.text(alphabet=st.characters(blacklist_characters="{}"), max_size=200))
def test_plain_text_renders_unchanged(text: str) -> None:
    assert parse(text).execute({}) == text
