"""Model names: Ollama's grammar, defaults, case rules, and rejection of anything path-like."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from registry.errors import InvalidDigest, InvalidName
from registry.oci.digest import Digest
from registry.oci.name import ModelName


@pytest.mark.parametrize(
    ("text", "full", "short"),
    [
        ("llama3.2", "registry.ollama.ai/library/llama3.2:latest", "llama3.2:latest"),
        ("llama3.2:1b", "registry.ollama.ai/library/llama3.2:1b", "llama3.2:1b"),
        ("me/m", "registry.ollama.ai/me/m:latest", "me/m:latest"),
        ("localhost:5000/me/m:v1", "localhost:5000/me/m:v1", "localhost:5000/me/m:v1"),
        ("http://localhost:5000/me/m:v1", "localhost:5000/me/m:v1", "localhost:5000/me/m:v1"),
        ("Registry.Ollama.AI/Library/M:T", "Registry.Ollama.AI/Library/M:T", "M:T"),
    ],
)
def test_parse_and_display(text: str, full: str, short: str) -> None:
    name = ModelName.parse(text)
    assert str(name) == full
    assert name.display_shortest == short


def test_scheme_and_digest() -> None:
    name = ModelName.parse("http://h:1/n/m:t@sha256:" + "A" * 64)
    assert name.scheme == "http"
    assert name.base_url == "http://h:1"
    assert name.digest == Digest("a" * 64)
    assert name.repository == "n/m"


def test_case_insensitive_equality_keeps_spelling() -> None:
    a, b = ModelName.parse("LLaMA3.2:Q4"), ModelName.parse("llama3.2:q4")
    assert a == b and hash(a) == hash(b)
    assert a.model == "LLaMA3.2"


@pytest.mark.parametrize(
    ("text", "part"),
    [
        ("../x", "namespace"),
        ("a/../b", "namespace"),
        ("/abs", "namespace"),
        ("a/b/c/d", "parts"),
        ("x:", "tag"),
        ("my.ns/m", "namespace"),
        ("m\x00", "NUL"),
        ("a\\b", "model"),
        ("a" * 81, "model"),
        ("m:" + "t" * 81, "tag"),
        ("h" * 351 + "/n/m", "host"),
        ("ftp://h/n/m", "scheme"),
        ("-m", "model"),
        ("", "empty"),
        ("n/m:t:u", "model"),
    ],
)
def test_invalid_names_name_the_bad_part(text: str, part: str) -> None:
    with pytest.raises(InvalidName) as info:
        ModelName.parse(text)
    assert part in str(info.value)
    assert str(info.value).startswith("invalid model name")


def test_bad_digest_suffix() -> None:
    with pytest.raises(InvalidDigest):
        ModelName.parse("m@sha256:123")


_part = st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_-]{0,20}", fullmatch=True)
_dotted = st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}", fullmatch=True)
_host = st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}(:[0-9]{1,5})?", fullmatch=True)


@given(host=_host, namespace=_part, model=_dotted, tag=_dotted)
def test_round_trip(host: str, namespace: str, model: str, tag: str) -> None:
    name = ModelName(host=host, namespace=namespace, model=model, tag=tag)
    again = ModelName.parse(str(name))
    assert again == name
    assert str(again) == str(name)
    assert ModelName.parse(name.display_shortest) == name


@given(st.text(max_size=120))
def test_parser_never_crashes(text: str) -> None:
    try:
        name = ModelName.parse(text)
    except (InvalidName, InvalidDigest):
        return
    for part in (name.host, name.namespace, name.model, name.tag):
        assert part != ".." and "/" not in part and "\\" not in part and "\x00" not in part
