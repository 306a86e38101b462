"""Issue 10, item 7 (the pure part): a Go template from a request cannot take unbounded time or
memory. Parsing is linear and nests a bounded depth; execution stops at its budget of steps,
characters or seconds; ``range`` over an integer is bounded; ``slice`` of a list does not copy."""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable
from typing import Any

import pytest

from registry.modelserver.prompt import PromptTemplate
from registry.modelserver.prompt.gotemplate import Budget, BudgetExceeded, Limits, TemplateError, parse

#: No hostile template may make a render allocate more than this (the issue saw 409 MiB).
MEMORY_LIMIT = 64 << 20


def _peak(fn: Callable[[], Any]) -> tuple[Any, int]:
    tracemalloc.start()
    try:
        try:
            result: Any = fn()
        except TemplateError as err:
            result = err
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


HOSTILE = {
    "nested range": "{{range 1000}}{{range 1000}}{{range 1000}}{{.}}{{end}}{{end}}{{end}}",
    "range over messages of messages": "{{range .M}}{{range $.M}}{{range $.M}}{{json $.M}}{{end}}{{end}}{{end}}",
    "huge integer range": "{{range 1000000000000}}x{{end}}",
    "doubling string": '{{$x := "ab"}}' + "{{$x = print $x $x}}" * 40 + "{{$x}}",
    "many-argument print": '{{$x := "ab"}}' + "{{$x = print $x $x}}" * 20 + "{{print " + "$x " * 2000 + "}}",
    "printf of a big string": '{{$x := "ab"}}' + '{{$x = printf "%s%s" $x $x}}' * 40,
}


@pytest.mark.parametrize("source", HOSTILE.values(), ids=list(HOSTILE))
def test_hostile_templates_stop_at_their_budget(source: str) -> None:
    data = {"M": [{"role": "user", "content": "x" * 100}] * 200}
    result, peak = _peak(lambda: parse(source).execute(data))
    assert isinstance(result, BudgetExceeded), result
    assert peak < MEMORY_LIMIT


@pytest.mark.parametrize(
    "source",
    [
        "{{if 1}}" * 5000 + "{{end}}" * 5000,
        "{{with 1}}" * 5000 + "{{end}}" * 5000,
        "{{" + "(" * 5000 + "1" + ")" * 5000 + "}}",
        "{{if 0}}" + "{{else if 0}}" * 3000 + "{{end}}",
    ],
    ids=["if", "with", "parentheses", "else-if chain"],
)
def test_deep_nesting_is_a_parse_error_not_a_recursion_error(source: str) -> None:
    with pytest.raises(TemplateError, match="nested too deeply"):
        parse(source)


@pytest.mark.parametrize(
    "source",
    ["{{" * 200_000, "{{ x" * 100_000, "{{print " + "1 " * 200_000, "}}{{" * 100_000],
    ids=["open braces", "unclosed actions", "unclosed long action", "alternating"],
)
def test_parsing_is_linear_in_the_source(source: str) -> None:
    # quadratic parsing of these (the old regex lexer) took minutes; linear takes milliseconds
    with pytest.raises(TemplateError):
        parse(source)


def test_a_long_action_parses_and_renders() -> None:
    assert parse("{{print " + "1 " * 100_000 + "}}").execute({}) == "1" * 100_000


def test_range_over_an_integer_is_bounded_by_the_limit() -> None:
    assert parse("{{range 3}}{{.}}{{end}}").execute({}) == "012"
    with pytest.raises(BudgetExceeded, match="range over 101 exceeds"):
        parse("{{range 101}}x{{end}}").execute({}, Budget(Limits(max_range=100)))


def test_the_budget_is_shared_by_every_turn_of_a_legacy_template() -> None:
    template = PromptTemplate.from_go("{{range 50}}{{$.Prompt}}{{end}}")
    messages = [{"role": "user", "content": "x"}, {"role": "assistant", "content": "y"}] * 50
    with pytest.raises(BudgetExceeded):
        template.render_chat(messages, budget=Budget(Limits(max_steps=5_000)))
    assert template.render_chat(messages[:2])  # a fresh default budget is plenty


def test_slice_of_a_list_is_a_view_with_go_semantics() -> None:
    data = {"L": [1, 2, 3, 4]}
    out = parse(
        "{{ slice .L 1 3 }} {{ len (slice .L 2) }} {{ index (slice .L 1) 0 }} {{ slice (slice .L 1) 1 }} "
        "{{ json (slice .L 1 2) }} {{ range slice .L 3 }}{{ . }}{{ end }} {{ eq (len (slice .L 4)) 0 }}"
    ).execute(data)
    assert out == "[2 3] 2 2 [3 4] [2] 4 true"


def test_a_long_conversation_with_the_llama_template_fits_the_budget() -> None:
    # llama3.x templates slice $.Messages at every message: quadratic as copies, linear as views
    source = (
        "{{- range $i, $_ := .Messages }}{{- $last := eq (len (slice $.Messages $i)) 1 }}"
        "{{ .Role }}: {{ .Content }}{{ if $last }}!{{ end }}\n{{- end }}"
    )
    messages = [{"role": "user", "content": f"m{i}"} for i in range(10_000)]
    # the default step, output and range limits; the clock limit is lifted because tracemalloc
    # (which measures the peak here) slows Python several times over on a busy machine
    budget = Budget(Limits(max_seconds=600.0))
    out, peak = _peak(lambda: parse(source).execute({"Messages": messages}, budget))
    assert isinstance(out, str) and out.endswith("user: m9999!") and peak < MEMORY_LIMIT


def test_python_attributes_are_not_fields() -> None:
    assert parse("{{ .P.__class__ }}|{{ .P.upper }}").execute({"P": "x"}) == "<no value>|<no value>"


def test_runtime_type_errors_are_template_errors() -> None:
    for source in (
        "{{range .D}}{{.}}{{end}}",
        "{{ lt .A .B }}",
        "{{ slice .S 1 2 3 }}",
        '{{ range "abc" }}{{ end }}',
    ):
        with pytest.raises(TemplateError):
            parse(source).execute({"D": {1: "a", "b": 2}, "A": 1, "B": "x", "S": "str"})
