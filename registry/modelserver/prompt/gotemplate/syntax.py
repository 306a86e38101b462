"""Lexing and parsing: a template's source to a tree of :class:`Node`. Linear in the source; nesting
is bounded by :attr:`Limits.max_depth`."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from registry.modelserver.prompt.gotemplate.budget import Limits, TemplateError
from registry.modelserver.prompt.gotemplate.functions import FUNCTIONS

__all__ = ["Node", "Operand", "Pipe", "parse_nodes"]


# -- lexing -----------------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""\s*(?:
      (?P<str>"(?:[^"\\]|\\.)*")
    | (?P<raw>`[^`]*`)
    | (?P<num>-?\d+(?:\.\d+)?)
    | (?P<decl>:=)
    | (?P<assign>=)
    | (?P<op>[|(),])
    | (?P<var>\$[A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*)
    | (?P<field>(?:\.[A-Za-z0-9_]+)+|\.)
    | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
    )""",
    re.X,
)


def _tokens(text: str, where: int) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise TemplateError(f"template: offset {where}: unexpected {text[pos:].strip()[:20]!r} in action")
        kind = m.lastgroup or ""
        out.append((kind, m.group(kind)))
        pos = m.end()
        # a field chain right after ')' belongs to the parenthesised value
    return out


# -- AST --------------------------------------------------------------------------------------------


@dataclass
class Pipe:
    cmds: list[list[Any]]  # each command: list of operands
    decl: list[str] = field(default_factory=list)
    assign: bool = False


@dataclass
class Node:
    kind: str  # text | action | if | range | with
    text: str = ""
    pipe: Pipe | None = None
    body: list[Node] = field(default_factory=list)
    orelse: list[Node] = field(default_factory=list)


@dataclass
class Operand:
    kind: str  # field | var | str | num | bool | nil | ident | pipe
    value: Any
    chain: tuple[str, ...] = ()


def _parse_pipe(toks: list[tuple[str, str]], where: int, max_depth: int) -> Pipe:
    decl: list[str] = []
    assign = False
    start = 0
    idx = next((i for i, (k, _) in enumerate(toks) if k in ("decl", "assign")), None)
    if idx is not None:
        names = [v for k, v in toks[:idx] if k == "var"]
        if not names:
            raise TemplateError(f"template: offset {where}: missing variable before {toks[idx][1]}")
        decl, assign, start = names, toks[idx][0] == "assign", idx + 1
    cmds, end = _parse_cmds(toks, start, where, max_depth)
    if end < len(toks):
        raise TemplateError(f"template: offset {where}: unexpected {toks[end][1]!r}")
    if not cmds:
        raise TemplateError(f"template: offset {where}: missing value for command")
    return Pipe(cmds, decl, assign)


def _parse_cmds(toks: list[tuple[str, str]], i: int, where: int, depth: int) -> tuple[list[list[Any]], int]:
    """Commands from ``toks[i:]`` up to a ``)`` or the end; returns them and the index reached."""
    if depth <= 0:
        raise TemplateError(f"template: offset {where}: parentheses nested too deeply")
    cmds: list[list[Any]] = [[]]
    while i < len(toks):
        kind, value = toks[i]
        if kind == "op" and value == ")":
            break
        i += 1
        if kind == "op" and value == "|":
            cmds.append([])
            continue
        if kind == "op" and value == "(":
            inner, i = _parse_cmds(toks, i, where, depth - 1)
            if i >= len(toks) or toks[i][1] != ")":
                raise TemplateError(f"template: offset {where}: unclosed left paren")
            i += 1
            chain: tuple[str, ...] = ()
            if i < len(toks) and toks[i][0] == "field" and toks[i][1] != ".":
                chain = tuple(toks[i][1].split(".")[1:])
                i += 1
            cmds[-1].append(Operand("pipe", Pipe(inner), chain))
            continue
        cmds[-1].append(_operand(kind, value, where))
    return [c for c in cmds if c], i


def _operand(kind: str, value: str, where: int) -> Operand:
    if kind == "field":
        return Operand("field", None, tuple(p for p in value.split(".") if p))
    if kind == "var":
        name, *chain = value.split(".")
        return Operand("var", name, tuple(chain))
    if kind == "str":
        return Operand("str", json.loads(value))
    if kind == "raw":
        return Operand("str", value[1:-1])
    if kind == "num":
        return Operand("num", float(value) if "." in value else int(value))
    if kind == "ident":
        if value in ("true", "false"):
            return Operand("bool", value == "true")
        if value == "nil":
            return Operand("nil", None)
        if value not in FUNCTIONS:
            raise TemplateError(f'template: offset {where}: function "{value}" not defined')
        return Operand("ident", value)
    raise TemplateError(f"template: offset {where}: unexpected {value!r}")


def _actions(source: str) -> list[tuple[str, Any, int]]:
    """Text and ``{{ }}`` actions in order, trim markers applied. Linear in the source: an action
    ends at the first ``}}``."""
    items: list[tuple[str, Any, int]] = []
    pos = 0
    while True:
        start = source.find("{{", pos)
        if start < 0:
            break
        end = source.find("}}", start + 2)
        if end < 0:
            raise TemplateError(f"template: offset {start}: unclosed action")
        inner = source[start + 2 : end]
        left = len(inner) >= 2 and inner[0] == "-" and inner[1].isspace()
        right = len(inner) >= 2 and inner[-1] == "-" and inner[-2].isspace()
        body = inner[2 if left else 0 : len(inner) - 2 if right else len(inner)]
        items.append(("text", source[pos:start], pos))
        items.append(("action", (body.strip(), left, right), start))
        pos = end + 2
    items.append(("text", source[pos:], pos))
    for i, (kind, value, _) in enumerate(items):
        if kind != "action":
            continue
        _, left, right = value
        if left and i > 0:
            items[i - 1] = ("text", items[i - 1][1].rstrip(), items[i - 1][2])
        if right and i + 1 < len(items):
            items[i + 1] = ("text", items[i + 1][1].lstrip(), items[i + 1][2])
    return items


def parse_nodes(source: str, limits: Limits | None = None) -> list[Node]:
    """Parse a template. Raises :class:`TemplateError` with the offending position."""
    max_depth = (limits or Limits()).max_depth
    nodes, _rest, end = _parse_block(_actions(source), 0, max_depth)
    if end is not None:
        raise TemplateError(f"template: unexpected {{{{{end}}}}}")
    return nodes


def _parse_block(items: list[tuple[str, Any, int]], i: int, depth: int) -> tuple[list[Node], int, str | None]:
    nodes: list[Node] = []
    while i < len(items):
        kind, value, where = items[i]
        i += 1
        if kind == "text":
            if value:
                nodes.append(Node("text", text=value))
            continue
        body = value[0]
        if body.startswith("/*"):
            continue
        word = body.split(None, 1)[0] if body else ""
        if word in ("end", "else"):
            return nodes, i, body
        if word in ("if", "range", "with"):
            node, i = _parse_control(word, body[len(word) :], items, i, where, depth)
            nodes.append(node)
            continue
        if word in ("define", "template", "block", "break", "continue"):
            raise TemplateError(f"template: offset {where}: {{{{{word}}}}} is not supported")
        nodes.append(Node("action", pipe=_parse_pipe(_tokens(body, where), where, depth)))
    return nodes, i, None


def _parse_control(
    word: str, rest: str, items: list[tuple[str, Any, int]], i: int, where: int, depth: int
) -> tuple[Node, int]:
    if depth <= 0:
        raise TemplateError(f"template: offset {where}: {{{{{word}}}}} blocks nested too deeply")
    node = Node(word, pipe=_parse_pipe(_tokens(rest, where), where, depth))
    node.body, i, end = _parse_block(items, i, depth - 1)
    if end is None:
        raise TemplateError(f"template: offset {where}: unexpected EOF, missing {{{{end}}}} for {word}")
    if end == "else":
        node.orelse, i, end = _parse_block(items, i, depth - 1)
    elif end.startswith("else ") and end.split()[1] in ("if", "with"):
        inner_word = end.split()[1]
        inner, i = _parse_control(
            inner_word, end.split(None, 2)[2] if len(end.split()) > 2 else "", items, i, where, depth - 1
        )
        node.orelse = [inner]
        return node, i
    if end is None or end.split()[0] != "end":
        raise TemplateError(f"template: offset {where}: expected {{{{end}}}}")
    return node, i
