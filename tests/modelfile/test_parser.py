"""The Modelfile parser: grammar, typed parameters, clear errors naming the line."""

from __future__ import annotations

import pytest

from registry.errors import InvalidModelfile
from registry.modelfile.parser import Message, parse_modelfile

FULL = '''# a comment
from llama3.2
PARAMETER temperature 0.5
parameter num_ctx 4096
PARAMETER stop <|eot_id|>
PARAMETER stop "<|end|> "
PARAMETER use_mmap false
TEMPLATE """{{ if .System }}<|system|>{{ .System }}{{ end }}
{{ .Prompt }} "quoted" """
SYSTEM    You are Mario # this is not a comment
ADAPTER ./lora.gguf
LICENSE """MIT
line two"""
License Apache-2.0
MESSAGE user Is Toronto in Canada?
MESSAGE assistant "yes"
REQUIRES v0.14.0
'''


def test_full_modelfile() -> None:
    m = parse_modelfile(FULL)
    assert m.from_ == "llama3.2"
    assert m.parameters == {
        "temperature": 0.5,
        "num_ctx": 4096,
        "stop": ["<|eot_id|>", "<|end|> "],
        "use_mmap": False,
    }
    assert m.template == '{{ if .System }}<|system|>{{ .System }}{{ end }}\n{{ .Prompt }} "quoted" '
    assert m.system == "You are Mario # this is not a comment"
    assert m.adapters == ("./lora.gguf",)
    assert m.licenses == ("MIT\nline two", "Apache-2.0")
    assert m.messages == (Message("user", "Is Toronto in Canada?"), Message("assistant", "yes"))
    assert m.requires == "0.14.0"
    assert [c.line for c in m.commands][:3] == [2, 3, 4]


def test_bom_crlf_and_non_printables() -> None:
    m = parse_modelfile(b"\xef\xbb\xbfFROM x\r\nSYSTEM a\x00b\r\n")
    assert (m.from_, m.system) == ("x", "ab")
    m16 = parse_modelfile("FROM y\nSYSTEM z\n".encode("utf-16"))
    assert (m16.from_, m16.system) == ("y", "z")


def test_deprecated_parameter_warns_and_is_dropped() -> None:
    m = parse_modelfile("FROM x\nPARAMETER mirostat 2\nPARAMETER temperature 1\n")
    assert m.parameters == {"temperature": 1.0}
    assert m.warnings == ("parameter mirostat is deprecated",)


def test_repeated_scalar_parameter_last_wins_with_warning() -> None:
    m = parse_modelfile("FROM x\nPARAMETER top_k 5\nPARAMETER top_k 7\n")
    assert m.parameters == {"top_k": 7}
    assert "(line 3)" in m.warnings[0]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "no FROM line"),
        ("# only a comment\nSYSTEM hi\n", "no FROM line"),
        ("FROM x\nFOO bar\n", "(line 2): command must be one of"),
        ("FROM x\n\nFROM2 y\n", "(line 3): command must be one of"),
        ("FROM\n", "(line 1): FROM needs a value"),
        ('FROM ""\n', "(line 1): FROM needs a model name or a path"),
        ("FROM   \n", "(line 1): FROM needs a value"),
        (
            "FROM x\nPARAMETER temperature hot\n",
            "(line 2): invalid float value 'hot' for parameter 'temperature'",
        ),
        ("FROM x\nPARAMETER num_ctx 2.5\n", "(line 2): invalid int value '2.5' for parameter 'num_ctx'"),
        ("FROM x\nPARAMETER use_mmap maybe\n", "(line 2): invalid bool value 'maybe'"),
        ("FROM x\nPARAMETER temperature nan\n", "invalid float value 'nan'"),
        ("FROM x\nPARAMETER nonsense 1\n", "(line 2): unknown parameter 'nonsense'"),
        ("FROM x\nPARAMETER temperature\n", "(line 2): PARAMETER needs a parameter name and a value"),
        ("FROM x\nPARAMETER temperature \n", "(line 2): PARAMETER needs a value"),
        (
            "FROM x\nMESSAGE User hi\n",
            '(line 2): message role must be one of "system", "user", or "assistant"',
        ),
        ("FROM x\nMESSAGE user\n", "(line 2): MESSAGE needs a role and a message"),
        (
            'FROM x\nSYSTEM """never closed\nmore\n',
            '(line 2): unexpected end of file: the value starting here needs a closing """',
        ),
        ('FROM x\nSYSTEM "never closed\n', "(line 2): unexpected end of file"),
        ("FROM x\nREQUIRES latest\n", "(line 2): requires must be a valid semver"),
        ("FROM x\nADAPTER a\nADAPTER b\n", "(line 3): only one adapter is currently supported"),
    ],
)
def test_bad_input_names_line_and_expectation(text: str, expected: str) -> None:
    with pytest.raises(InvalidModelfile) as info:
        parse_modelfile(text)
    assert expected in str(info.value)


def test_quoted_value_may_span_lines_and_keeps_tabs() -> None:
    m = parse_modelfile('FROM x\nSYSTEM "line one\n\tline two"\nPARAMETER top_p 0.9\n')
    assert m.system == "line one\n\tline two"
    assert m.parameters == {"top_p": 0.9}


def test_hash_inside_value_and_indented_comment() -> None:
    m = parse_modelfile("  # indented comment\nFROM x # not a comment\n")
    assert m.from_ == "x # not a comment"
