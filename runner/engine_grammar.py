"""Ollama's ``format`` (``"json"`` or a JSON schema) as a llama.cpp GBNF grammar."""

from __future__ import annotations

import json
import re
from typing import Any

from llama_cpp import llama_grammar

__all__ = ["MAX_GRAMMAR_CHARS", "MAX_REPETITIONS", "grammar_for_format"]

#: The converter writes a schema's counts out (``minLength: n`` becomes n rules, ``(a{n}){m}`` n*m
#: copies): no count, and no product of nested counts in a pattern, may exceed this.
MAX_REPETITIONS = 10_000
#: Nor may the grammar it writes exceed this many characters.
MAX_GRAMMAR_CHARS = 1 << 20

_COUNT_KEYWORDS = ("minLength", "maxLength", "minItems", "maxItems", "minProperties", "maxProperties")
_QUANTIFIER = re.compile(r"\{(\d+)(?:,(\d*))?\}")


def _pattern_repetitions(pattern: str) -> int:
    """An upper bound of how often the converter copies any part of a regex ``pattern``: the
    product of the counted quantifiers (``{n}``, ``{n,m}``) around it (escapes and character
    classes are skipped; an over-estimate is fine)."""
    opens: list[int] = []
    group_of_close: dict[int, int] = {}
    i, in_class = 0, False
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            i += 2
            continue
        if in_class:
            in_class = c != "]"
        elif c == "[":
            in_class = True
        elif c == "(":
            opens.append(i)
        elif c == ")" and opens:
            group_of_close[i] = opens.pop()
        i += 1
    changes = [1] * (len(pattern) + 1)  # multiply at a span's start, divide after its end
    ends: list[tuple[int, int]] = []
    for m in _QUANTIFIER.finditer(pattern):
        count = max(int(m.group(1)), int(m.group(2) or 0))
        if count > MAX_REPETITIONS:
            return count
        end = m.start() - 1
        start = group_of_close.get(end, end)
        if start < 0 or count <= 1:
            continue
        changes[start] *= count
        ends.append((end + 1, count))
    divide = [1] * (len(pattern) + 1)
    for at, count in ends:
        divide[at] *= count
    worst = product = 1
    for at in range(len(pattern)):
        product = product // divide[at] * changes[at]
        worst = max(worst, product)
        if worst > MAX_REPETITIONS:
            break
    return worst


def _check_repetitions(schema: dict[str, Any]) -> None:
    """Refuse a schema whose counts would make the grammar (or llama.cpp's rules) huge.

    Raises:
        ValueError: naming the keyword.
    """
    stack: list[Any] = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
            continue
        if not isinstance(node, dict):
            continue
        for key, value in node.items():
            if key in _COUNT_KEYWORDS and isinstance(value, int | float) and value > MAX_REPETITIONS:
                raise ValueError(f"invalid format: {key} may be at most {MAX_REPETITIONS}")
            if key == "pattern" and isinstance(value, str) and _pattern_repetitions(value) > MAX_REPETITIONS:
                raise ValueError(f"invalid format: the pattern repeats more than {MAX_REPETITIONS} times")
            if isinstance(value, dict | list):
                stack.append(value)


def grammar_for_format(fmt: str | dict[str, Any] | None) -> str | None:
    """The GBNF grammar that constrains output to ``fmt``; None when there is no constraint.

    ``""`` and None mean no constraint; ``"json"`` any JSON object; a dict is a JSON schema.

    Raises:
        ValueError: an unknown format string or a schema the converter cannot handle.
    """
    if fmt is None or fmt == "":
        return None
    if fmt == "json":
        return _JSON_OBJECT_GBNF
    if isinstance(fmt, dict):
        _check_repetitions(fmt)
        try:
            grammar = str(llama_grammar.json_schema_to_gbnf(json.dumps(fmt)))
        except Exception as err:  # the converter raises bare Exceptions and KeyErrors
            raise ValueError(f"invalid JSON schema in format: {err}") from err
        if len(grammar) > MAX_GRAMMAR_CHARS:
            raise ValueError(
                f"invalid format: the JSON schema gives a grammar over {MAX_GRAMMAR_CHARS} characters"
            )
        return grammar
    raise ValueError(f'invalid format: {fmt!r}; expected "json" or a JSON schema')


# Ollama's grammarJSON: a JSON object at the top level (llama.cpp's json.gbnf).
_JSON_OBJECT_GBNF = r"""
root   ::= object
value  ::= object | array | string | number | ("true" | "false" | "null") ws

object ::=
  "{" ws (
            string ":" ws value
    ("," ws string ":" ws value)*
  )? "}" ws

array  ::=
  "[" ws (
            value
    ("," ws value)*
  )? "]" ws

string ::=
  "\"" (
    [^"\\\x7F\x00-\x1F] |
    "\\" (["\\bfnrt] | "u" [0-9a-fA-F]{4})
  )* "\"" ws

number ::= ("-"? ([0-9] | [1-9] [0-9]{0,15})) ("." [0-9]+)? ([eE] [-+]? [0-9] [1-9]{0,15})? ws

ws ::= | " " | "\n" [ \t]{0,20}
"""
