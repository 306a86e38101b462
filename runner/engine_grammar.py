"""Ollama's ``format`` (``"json"`` or a JSON schema) as a llama.cpp GBNF grammar."""

from __future__ import annotations

import json
from typing import Any

from llama_cpp import llama_grammar

__all__ = ["grammar_for_format"]


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
        try:
            return str(llama_grammar.json_schema_to_gbnf(json.dumps(fmt)))
        except Exception as err:  # the converter raises bare Exceptions and KeyErrors
            raise ValueError(f"invalid JSON schema in format: {err}") from err
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
