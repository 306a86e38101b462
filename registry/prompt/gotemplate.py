"""A Go ``text/template`` subset, enough for Ollama's library templates. Pure; no I/O.

Supported: text and ``{{ }}`` actions with ``{{-`` / ``-}}`` trimming and ``{{/* comments */}}``;
pipelines with ``|``; fields (``.A.B``, ``$.A``, ``$x.A``, ``.``, ``$``); string (``"..."``,
`` `raw` ``), number, ``true``/``false``/``nil`` literals; parenthesised pipelines; variables
(``$x := p``, ``$x = p``); ``if``/``else if``/``else``/``end``, ``range`` (with ``$i, $v :=``,
``else``), ``with`` (``else``); the functions ``and or not eq ne lt le gt ge len slice index json
printf print println html urlquery currentDate``. ``define``/``template``/``block`` are not.

Values: dicts stand for Go structs and maps (a missing key is "no value", printed as
``<no value>`` like Go); objects whose ``__str__`` gives JSON (:class:`JsonText`) print as JSON.
Errors (:class:`TemplateError`) name the position; parse errors are raised by :func:`parse`, so a
template can be checked once at load time.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from typing import Any

__all__ = ["JsonValue", "Template", "TemplateError", "parse"]


class TemplateError(ValueError):
    """The template cannot be parsed or executed."""


class JsonValue:
    """A value that prints as compact JSON (Ollama's ToolCallFunctionArguments / Tool ``String``)
    while still allowing field access."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def __str__(self) -> str:
        return json.dumps(self.value, separators=(",", ":"), ensure_ascii=False)


# -- lexing -----------------------------------------------------------------------------------------

_ACTION = re.compile(r"\{\{(-\s)?(.*?)(\s-)?\}\}", re.S)
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
class _Pipe:
    cmds: list[list[Any]]  # each command: list of operands
    decl: list[str] = field(default_factory=list)
    assign: bool = False


@dataclass
class _Node:
    kind: str  # text | action | if | range | with
    text: str = ""
    pipe: _Pipe | None = None
    body: list[_Node] = field(default_factory=list)
    orelse: list[_Node] = field(default_factory=list)


@dataclass
class _Operand:
    kind: str  # field | var | str | num | bool | nil | ident | pipe
    value: Any
    chain: tuple[str, ...] = ()


def _parse_pipe(toks: list[tuple[str, str]], where: int) -> _Pipe:
    decl: list[str] = []
    assign = False
    if any(k in ("decl", "assign") for k, _ in toks):
        idx = next(i for i, (k, _) in enumerate(toks) if k in ("decl", "assign"))
        names = [v for k, v in toks[:idx] if k == "var"]
        if not names:
            raise TemplateError(f"template: offset {where}: missing variable before {toks[idx][1]}")
        decl, assign, toks = names, toks[idx][0] == "assign", toks[idx + 1 :]
    cmds, rest = _parse_cmds(toks, where)
    if rest:
        raise TemplateError(f"template: offset {where}: unexpected {rest[0][1]!r}")
    if not cmds:
        raise TemplateError(f"template: offset {where}: missing value for command")
    return _Pipe(cmds, decl, assign)


def _parse_cmds(toks: list[tuple[str, str]], where: int) -> tuple[list[list[Any]], list[tuple[str, str]]]:
    cmds: list[list[Any]] = [[]]
    while toks:
        kind, value = toks[0]
        if kind == "op" and value == ")":
            break
        toks = toks[1:]
        if kind == "op" and value == "|":
            cmds.append([])
            continue
        if kind == "op" and value == "(":
            inner, toks = _parse_cmds(toks, where)
            if not toks or toks[0][1] != ")":
                raise TemplateError(f"template: offset {where}: unclosed left paren")
            toks = toks[1:]
            chain: tuple[str, ...] = ()
            if toks and toks[0][0] == "field" and toks[0][1] != ".":
                chain = tuple(toks[0][1].split(".")[1:])
                toks = toks[1:]
            cmds[-1].append(_Operand("pipe", _Pipe(inner), chain))
            continue
        cmds[-1].append(_operand(kind, value, where))
    return [c for c in cmds if c], toks


def _operand(kind: str, value: str, where: int) -> _Operand:
    if kind == "field":
        return _Operand("field", None, tuple(p for p in value.split(".") if p))
    if kind == "var":
        name, *chain = value.split(".")
        return _Operand("var", name, tuple(chain))
    if kind == "str":
        return _Operand("str", json.loads(value))
    if kind == "raw":
        return _Operand("str", value[1:-1])
    if kind == "num":
        return _Operand("num", float(value) if "." in value else int(value))
    if kind == "ident":
        if value in ("true", "false"):
            return _Operand("bool", value == "true")
        if value == "nil":
            return _Operand("nil", None)
        if value not in _FUNCS:
            raise TemplateError(f'template: offset {where}: function "{value}" not defined')
        return _Operand("ident", value)
    raise TemplateError(f"template: offset {where}: unexpected {value!r}")


def parse(source: str) -> Template:
    """Parse a template. Raises :class:`TemplateError` with the offending position."""
    items: list[tuple[str, Any, int]] = []
    pos = 0
    for m in _ACTION.finditer(source):
        items.append(("text", source[pos : m.start()], pos))
        body = m.group(2).strip()
        items.append(("action", (body, bool(m.group(1)), bool(m.group(3))), m.start()))
        pos = m.end()
    items.append(("text", source[pos:], pos))
    if "{{" in "".join(t for k, t, _ in items if k == "text"):
        raise TemplateError("template: unclosed action")
    # apply trim markers
    for i, (kind, value, _) in enumerate(items):
        if kind != "action":
            continue
        _, left, right = value
        if left and i > 0:
            items[i - 1] = ("text", items[i - 1][1].rstrip(), items[i - 1][2])
        if right and i + 1 < len(items):
            items[i + 1] = ("text", items[i + 1][1].lstrip(), items[i + 1][2])
    nodes, _rest, end = _parse_block(items, 0)
    if end is not None:
        raise TemplateError(f"template: unexpected {{{{{end}}}}}")
    return Template(nodes)


def _parse_block(items: list[tuple[str, Any, int]], i: int) -> tuple[list[_Node], int, str | None]:
    nodes: list[_Node] = []
    while i < len(items):
        kind, value, where = items[i]
        i += 1
        if kind == "text":
            if value:
                nodes.append(_Node("text", text=value))
            continue
        body = value[0]
        if body.startswith("/*"):
            continue
        word = body.split(None, 1)[0] if body else ""
        if word in ("end", "else"):
            return nodes, i, body
        if word in ("if", "range", "with"):
            node, i = _parse_control(word, body[len(word) :], items, i, where)
            nodes.append(node)
            continue
        if word in ("define", "template", "block", "break", "continue"):
            raise TemplateError(f"template: offset {where}: {{{{{word}}}}} is not supported")
        nodes.append(_Node("action", pipe=_parse_pipe(_tokens(body, where), where)))
    return nodes, i, None


def _parse_control(
    word: str, rest: str, items: list[tuple[str, Any, int]], i: int, where: int
) -> tuple[_Node, int]:
    node = _Node(word, pipe=_parse_pipe(_tokens(rest, where), where))
    node.body, i, end = _parse_block(items, i)
    if end is None:
        raise TemplateError(f"template: offset {where}: unexpected EOF, missing {{{{end}}}} for {word}")
    if end == "else":
        node.orelse, i, end = _parse_block(items, i)
    elif end.startswith("else ") and end.split()[1] in ("if", "with"):
        inner_word = end.split()[1]
        inner, i = _parse_control(
            inner_word, end.split(None, 2)[2] if len(end.split()) > 2 else "", items, i, where
        )
        node.orelse = [inner]
        return node, i
    if end is None or end.split()[0] != "end":
        raise TemplateError(f"template: offset {where}: expected {{{{end}}}}")
    return node, i


# -- execution --------------------------------------------------------------------------------------


def _truth(value: Any) -> bool:
    if isinstance(value, JsonValue):
        return _truth(value.value)
    return bool(value)


def _field(value: Any, name: str) -> Any:
    """Go field ``Name`` on a dict: the key ``Name``, else its JSON spelling (``name``, and
    ``tool_calls`` for ``ToolCalls``); JSON-printing values stay JSON-printing."""
    wrap = isinstance(value, JsonValue)
    if wrap:
        value = value.value
    if isinstance(value, dict):
        for key in (name, name[:1].lower() + name[1:], re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()):
            if key in value:
                found = value[key]
                return JsonValue(found) if wrap and isinstance(found, dict | list) else found
        return None
    if value is None:
        return None
    return getattr(value, name, None)


def _text(value: Any) -> str:
    if value is None:
        return "<no value>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value or 0))
    if isinstance(value, list):
        return "[" + " ".join(_text(v) for v in value) + "]"
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{_text(v)}" for k, v in sorted(value.items())) + "]"
    return str(value)


def _unwrap(value: Any) -> Any:
    return value.value if isinstance(value, JsonValue) else value


def _json(value: Any) -> str:
    return json.dumps(_unwrap(value), separators=(",", ":"), ensure_ascii=False, default=_unwrap)


def _printf(fmt: str, *args: Any) -> str:
    values = list(args)

    def repl(m: re.Match[str]) -> str:
        verb = m.group(2)
        if verb == "%":
            return "%"
        value = values.pop(0) if values else None
        if verb == "q":
            return json.dumps(_text(value))
        if verb == "d":
            return str(int(value or 0))
        return _text(value)

    return re.sub(r"%([-+ #0-9.]*)([vsdqtfgx%])", repl, fmt)


def _compare(op: str) -> Any:
    def fn(a: Any, b: Any) -> bool:
        a, b = _unwrap(a), _unwrap(b)
        try:
            return bool({"lt": a < b, "le": a <= b, "gt": a > b, "ge": a >= b}[op])
        except TypeError as err:
            raise TemplateError(f"{op}: incompatible types for comparison") from err

    return fn


def _slice(value: Any, *idx: Any) -> Any:
    value = _unwrap(value)
    if len(idx) == 0:
        return value
    if len(idx) == 1:
        return value[int(idx[0]) :]
    return value[int(idx[0]) : int(idx[1])]


def _index(value: Any, *keys: Any) -> Any:
    value = _unwrap(value)
    for key in keys:
        try:
            value = _unwrap(value)[key]
        except (KeyError, IndexError, TypeError) as err:
            raise TemplateError(f"index of {key!r}: {err}") from err
    return value


_FUNCS: dict[str, Any] = {
    "not": lambda v: not _truth(v),
    "eq": lambda a, *bs: any(_unwrap(a) == _unwrap(b) for b in bs),
    "ne": lambda a, b: _unwrap(a) != _unwrap(b),
    "lt": _compare("lt"),
    "le": _compare("le"),
    "gt": _compare("gt"),
    "ge": _compare("ge"),
    "len": lambda v: len(_unwrap(v) or []),
    "slice": _slice,
    "index": _index,
    "json": _json,
    "printf": _printf,
    "print": lambda *a: "".join(_text(x) for x in a),
    "println": lambda *a: " ".join(_text(x) for x in a) + "\n",
    "html": lambda v: _text(v).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"),
    "urlquery": lambda v: _text(v),
    "currentDate": lambda: time.strftime("%Y-%m-%d"),
    "and": None,  # short-circuit, handled in _call
    "or": None,
}


class Template:
    """A parsed template; :meth:`execute` renders it. Reusable and thread-safe."""

    def __init__(self, nodes: list[_Node]) -> None:
        self.nodes = nodes

    def execute(self, data: Any) -> str:
        """Render with ``data`` as ``.`` and ``$``. Raises :class:`TemplateError`."""
        out: list[str] = []
        self._run(self.nodes, data, [{"$": data}], out)
        return "".join(out)

    def _run(self, nodes: list[_Node], dot: Any, scopes: list[dict[str, Any]], out: list[str]) -> None:
        for node in nodes:
            if node.kind == "text":
                out.append(node.text)
            elif node.kind == "action":
                assert node.pipe is not None
                value = self._pipe(node.pipe, dot, scopes)
                if not node.pipe.decl:
                    out.append(_text(value))
            elif node.kind == "if":
                assert node.pipe is not None
                branch = node.body if _truth(self._pipe(node.pipe, dot, scopes)) else node.orelse
                self._run(branch, dot, [*scopes, {}], out)
            elif node.kind == "with":
                assert node.pipe is not None
                value = self._pipe(node.pipe, dot, scopes)
                if _truth(value):
                    self._run(node.body, value, [*scopes, {}], out)
                else:
                    self._run(node.orelse, dot, [*scopes, {}], out)
            elif node.kind == "range":
                self._range(node, dot, scopes, out)

    def _range(self, node: _Node, dot: Any, scopes: list[dict[str, Any]], out: list[str]) -> None:
        assert node.pipe is not None
        pipe = _Pipe(node.pipe.cmds)
        value = _unwrap(self._pipe(pipe, dot, scopes))
        items: list[tuple[Any, Any]]
        if isinstance(value, dict):
            items = sorted(value.items())
        elif isinstance(value, int) and not isinstance(value, bool):
            items = [(i, i) for i in range(value)]
        else:
            items = list(enumerate(value or []))
        if not items:
            self._run(node.orelse, dot, [*scopes, {}], out)
            return
        names = node.pipe.decl
        for key, item in items:
            scope: dict[str, Any] = {}
            if len(names) == 1:
                scope[names[0]] = item
            elif len(names) >= 2:
                scope[names[0]], scope[names[1]] = key, item
            self._run(node.body, item, [*scopes, scope], out)

    def _pipe(self, pipe: _Pipe, dot: Any, scopes: list[dict[str, Any]]) -> Any:
        value: Any = None
        for i, cmd in enumerate(pipe.cmds):
            extra = [value] if i > 0 else []
            value = self._command(cmd, dot, scopes, extra)
        if pipe.decl:
            name = pipe.decl[-1]
            if pipe.assign:
                for scope in reversed(scopes):
                    if name in scope:
                        scope[name] = value
                        break
                else:
                    raise TemplateError(f"undefined variable: {name}")
            else:
                scopes[-1][name] = value
        return value

    def _command(self, cmd: list[_Operand], dot: Any, scopes: list[dict[str, Any]], extra: list[Any]) -> Any:
        head = cmd[0]
        if head.kind == "ident":
            name = head.value
            if name in ("and", "or"):
                args = [*cmd[1:]]
                result: Any = None
                for op in args:
                    result = self._operand(op, dot, scopes)
                    if (name == "and") != _truth(result):
                        return result
                for v in extra:
                    result = v
                return result
            values = [self._operand(op, dot, scopes) for op in cmd[1:]] + extra
            try:
                return _FUNCS[name](*values)
            except TemplateError:
                raise
            except Exception as err:
                raise TemplateError(f"error calling {name}: {err}") from err
        if len(cmd) > 1 or extra:
            raise TemplateError("can't give argument to non-function")
        return self._operand(head, dot, scopes)

    def _operand(self, op: _Operand, dot: Any, scopes: list[dict[str, Any]]) -> Any:
        if op.kind == "field":
            value = dot
        elif op.kind == "var":
            for scope in reversed(scopes):
                if op.value in scope:
                    value = scope[op.value]
                    break
            else:
                raise TemplateError(f"undefined variable: {op.value}")
        elif op.kind == "pipe":
            value = self._pipe(op.value, dot, scopes)
        elif op.kind == "ident":
            value = _FUNCS[op.value]()
        else:
            return op.value
        for name in op.chain:
            value = _field(value, name)
        return value
