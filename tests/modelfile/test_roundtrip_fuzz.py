"""Property tests: the writer's output parses back to the same model; arbitrary input never crashes."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from registry.errors import InvalidModelfile
from registry.modelfile.parser import parse_modelfile
from registry.modelfile.writer import render_modelfile

# Printable text plus newlines and tabs (the parser drops other control characters by design).
_chars = st.characters(
    blacklist_categories=("Cc", "Cs", "Zl", "Zp", "Cf", "Co", "Cn", "Zs"), blacklist_characters="\r"
)
_text = st.text(st.one_of(_chars, st.sampled_from(' \t\n"#')), max_size=40)


def _representable(value: str) -> bool:
    """Ollama's grammar cannot carry a line that ends in the closing quote inside a quoted block."""
    return not any(line.rstrip(" \t").endswith('"""') for line in value.split("\n")[:-1])


_block_text = _text.filter(lambda v: v.strip() != "" and _representable(v) and not v.startswith('"' * 3))
_line_text = _text.filter(
    lambda v: _representable(v) and all(not line.endswith('"') for line in v.split("\n")[:-1])
)
_name = st.from_regex(r"[a-z][a-z0-9._-]{0,20}(:[a-z0-9]{1,8})?", fullmatch=True)
_params = st.fixed_dictionaries(
    {},
    optional={
        "temperature": st.floats(0, 2, allow_nan=False),
        "num_ctx": st.integers(1, 1 << 20),
        "stop": st.lists(_line_text, min_size=1, max_size=3),
        "use_mmap": st.booleans(),
        "seed": st.integers(-(1 << 31), 1 << 31),
    },
)


@settings(max_examples=100, deadline=None)
@given(
    from_=_name,
    template=st.none() | _block_text,
    system=st.none() | _block_text,
    params=_params,
    licenses=st.lists(_block_text, max_size=2),
    messages=st.lists(st.tuples(st.sampled_from(["system", "user", "assistant"]), _line_text), max_size=3),
)
def test_writer_output_parses_back(
    from_: str,
    template: str | None,
    system: str | None,
    params: dict[str, Any],
    licenses: list[str],
    messages: list[tuple[str, str]],
) -> None:
    text = render_modelfile(
        from_line=from_,
        short_name=from_,
        template=template,
        system=system,
        parameters=params,
        licenses=licenses,
        messages=[{"role": r, "content": c} for r, c in messages],
    )
    m = parse_modelfile(text)
    assert m.from_ == from_
    assert m.template == template
    assert m.system == system
    assert m.licenses == tuple(licenses)
    assert [(x.role, x.content) for x in m.messages] == messages
    assert m.parameters == params


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200) | st.binary(max_size=200))
def test_arbitrary_input_parses_or_fails_cleanly(data: str | bytes) -> None:
    try:
        m = parse_modelfile(data)
    except InvalidModelfile as err:
        assert str(err)
    else:
        assert m.froms


_statement = st.builds(
    lambda cmd, arg: f"{cmd} {arg}",
    st.sampled_from(
        [
            "FROM",
            "from",
            "PARAMETER temperature",
            "PARAMETER stop",
            "SYSTEM",
            "TEMPLATE",
            "MESSAGE user",
            "LICENSE",
            "REQUIRES",
            "ADAPTER",
            "#",
        ]
    ),
    st.text(st.sampled_from('ab"# \t\n1.'), max_size=12),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_statement, max_size=8))
def test_statement_soup_parses_or_fails_cleanly(statements: list[str]) -> None:
    try:
        parse_modelfile("\n".join(statements))
    except InvalidModelfile as err:
        assert str(err)
