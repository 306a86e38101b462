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

Templates may come from requests, so parsing is linear in the source and nests at most
:attr:`Limits.max_depth` blocks or parentheses, and every execution runs within a
:class:`Budget`: a number of steps, of characters produced (output and strings made by functions)
and of seconds, with ``range`` over an integer bounded; exceeding any is a :class:`TemplateError`
(:class:`BudgetExceeded`). ``slice`` of a list is a view, as in Go, not a copy.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Budget", "BudgetExceeded", "JsonValue", "Limits", "Template", "TemplateError", "parse"]


class TemplateError(ValueError):
    """The template cannot be parsed or executed."""


class BudgetExceeded(TemplateError):
    """An execution went beyond its :class:`Budget` (steps, output or time)."""


@dataclass(frozen=True, slots=True)
class Limits:
    """What one render may use. The defaults are far above what a chat template needs (a
    10,000-message conversation takes well under 1 % of them)."""

    max_steps: int = 1_000_000
    max_chars: int = 16 << 20
    max_seconds: float = 5.0
    max_range: int = 100_000
    max_depth: int = 100


class Budget:
    """The steps, characters and time left to one render (possibly several executions, e.g. one
    per turn). Not thread-safe: one render, one budget."""

    __slots__ = ("_deadline", "chars", "limits", "steps")

    def __init__(self, limits: Limits | None = None) -> None:
        self.limits = limits or Limits()
        self.steps = 0
        self.chars = 0
        self._deadline = time.monotonic() + self.limits.max_seconds

    def step(self) -> None:
        """Count one step of execution (a node, a command); checks the clock every 256 steps."""
        self.steps += 1
        if self.steps > self.limits.max_steps:
            raise BudgetExceeded(f"template: execution exceeded {self.limits.max_steps} steps")
        if not self.steps & 0xFF and time.monotonic() > self._deadline:
            raise BudgetExceeded(f"template: execution took longer than {self.limits.max_seconds:g} s")

    def produced(self, text: str) -> str:
        """Count ``text`` (output or a string a function made) against the character budget."""
        self.chars += len(text)
        self.check_room(0)
        return text

    def check_room(self, n: int) -> None:
        """Raise unless ``n`` more characters would fit."""
        if self.chars + n > self.limits.max_chars:
            raise BudgetExceeded(f"template: execution produced more than {self.limits.max_chars} characters")


class _ListView(Sequence[Any]):
    """``slice`` of a list: Go slices share their array, so this does not copy."""

    __slots__ = ("_base", "_start", "_stop")

    def __init__(self, base: Sequence[Any], start: int, stop: int) -> None:
        self._base, self._start, self._stop = base, start, stop

    def __len__(self) -> int:
        return self._stop - self._start

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            start, stop, _ = index.indices(len(self))
            return _ListView(self._base, self._start + start, self._start + max(start, stop))
        if not -len(self) <= index < len(self):
            raise IndexError("index out of range")
        return self._base[self._start + index % len(self)]

    def __iter__(self) -> Iterator[Any]:
        for i in range(self._start, self._stop):
            yield self._base[i]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sequence) and not isinstance(other, str) and list(self) == list(other)

    __hash__ = None  # type: ignore[assignment]


class JsonValue:
    """A value that prints as compact JSON (Ollama's ToolCallFunctionArguments / Tool ``String``)
    while still allowing field access."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def __str__(self) -> str:
        return json.dumps(self.value, separators=(",", ":"), ensure_ascii=False)


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


def _parse_pipe(toks: list[tuple[str, str]], where: int, max_depth: int) -> _Pipe:
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
    return _Pipe(cmds, decl, assign)


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
            cmds[-1].append(_Operand("pipe", _Pipe(inner), chain))
            continue
        cmds[-1].append(_operand(kind, value, where))
    return [c for c in cmds if c], i


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


def parse(source: str, limits: Limits | None = None) -> Template:
    """Parse a template. Raises :class:`TemplateError` with the offending position."""
    max_depth = (limits or Limits()).max_depth
    nodes, _rest, end = _parse_block(_actions(source), 0, max_depth)
    if end is not None:
        raise TemplateError(f"template: unexpected {{{{{end}}}}}")
    return Template(nodes)


def _parse_block(
    items: list[tuple[str, Any, int]], i: int, depth: int
) -> tuple[list[_Node], int, str | None]:
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
            node, i = _parse_control(word, body[len(word) :], items, i, where, depth)
            nodes.append(node)
            continue
        if word in ("define", "template", "block", "break", "continue"):
            raise TemplateError(f"template: offset {where}: {{{{{word}}}}} is not supported")
        nodes.append(_Node("action", pipe=_parse_pipe(_tokens(body, where), where, depth)))
    return nodes, i, None


def _parse_control(
    word: str, rest: str, items: list[tuple[str, Any, int]], i: int, where: int, depth: int
) -> tuple[_Node, int]:
    if depth <= 0:
        raise TemplateError(f"template: offset {where}: {{{{{word}}}}} blocks nested too deeply")
    node = _Node(word, pipe=_parse_pipe(_tokens(rest, where), where, depth))
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
    return None  # fields exist on maps only: never Python attributes (``__class__``, ``upper``)


def _text(value: Any) -> str:
    if value is None:
        return "<no value>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value or 0))
    if isinstance(value, list | _ListView):
        return "[" + " ".join(_text(v) for v in value) + "]"
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{_text(v)}" for k, v in sorted(value.items())) + "]"
    return str(value)


def _unwrap(value: Any) -> Any:
    return value.value if isinstance(value, JsonValue) else value


def _plain(value: Any) -> Any:
    """What ``json`` encodes for our wrapper types."""
    if isinstance(value, _ListView):
        return list(value)
    if isinstance(value, JsonValue):
        return value.value
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


def _json(value: Any) -> str:
    return json.dumps(_unwrap(value), separators=(",", ":"), ensure_ascii=False, default=_plain)


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
    if len(idx) > 2:
        raise TemplateError("slice: at most two indexes are supported")
    start, stop = (int(idx[0]) if idx else None), (int(idx[1]) if len(idx) > 1 else None)
    bounds = slice(start, stop)
    if isinstance(value, _ListView):
        return value[bounds]  # a view of the same list, never a view of a view
    if isinstance(value, list):
        first, last, _ = bounds.indices(len(value))
        return _ListView(value, first, max(first, last))
    return value[bounds]


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


#: Functions whose result joins their arguments' text: room is checked before they run.
_JOINING = frozenset({"print", "println", "printf"})


class Template:
    """A parsed template; :meth:`execute` renders it. Reusable and thread-safe."""

    def __init__(self, nodes: list[_Node]) -> None:
        self.nodes = nodes

    def execute(self, data: Any, budget: Budget | None = None) -> str:
        """Render with ``data`` as ``.`` and ``$`` within ``budget`` (default: a fresh one with
        the default :class:`Limits`). Raises :class:`TemplateError` (:class:`BudgetExceeded`)."""
        out: list[str] = []
        run = _Execution(budget or Budget())
        try:
            run.nodes(self.nodes, data, [{"$": data}], out)
        except TemplateError:
            raise
        except RecursionError as err:
            raise TemplateError("template: execution nested too deeply") from err
        except (TypeError, ValueError, AttributeError, KeyError, IndexError, OverflowError) as err:
            raise TemplateError(f"template: {err}") from err
        return "".join(out)


class _Execution:
    """One execution's walk over the nodes, charging every step to ``budget``."""

    def __init__(self, budget: Budget) -> None:
        self.budget = budget

    def nodes(self, nodes: list[_Node], dot: Any, scopes: list[dict[str, Any]], out: list[str]) -> None:
        budget = self.budget
        for node in nodes:
            budget.step()
            if node.kind == "text":
                out.append(budget.produced(node.text))
            elif node.kind == "action":
                assert node.pipe is not None
                value = self.pipe(node.pipe, dot, scopes)
                if not node.pipe.decl:
                    out.append(budget.produced(_text(value)))
            elif node.kind == "if":
                assert node.pipe is not None
                branch = node.body if _truth(self.pipe(node.pipe, dot, scopes)) else node.orelse
                self.nodes(branch, dot, [*scopes, {}], out)
            elif node.kind == "with":
                assert node.pipe is not None
                value = self.pipe(node.pipe, dot, scopes)
                if _truth(value):
                    self.nodes(node.body, value, [*scopes, {}], out)
                else:
                    self.nodes(node.orelse, dot, [*scopes, {}], out)
            elif node.kind == "range":
                self.range(node, dot, scopes, out)

    def _items(self, value: Any) -> Iterator[tuple[Any, Any]]:
        if isinstance(value, dict):
            return iter(sorted(value.items()))
        if isinstance(value, int) and not isinstance(value, bool):
            limit = self.budget.limits.max_range
            if value > limit:
                raise BudgetExceeded(f"template: range over {value} exceeds the limit of {limit} iterations")
            return ((i, i) for i in range(value))
        if isinstance(value, str):
            raise TemplateError("template: range can't iterate over a string")
        return enumerate(value or [])

    def range(self, node: _Node, dot: Any, scopes: list[dict[str, Any]], out: list[str]) -> None:
        assert node.pipe is not None
        pipe = _Pipe(node.pipe.cmds)
        value = _unwrap(self.pipe(pipe, dot, scopes))
        names = node.pipe.decl
        empty = True
        for key, item in self._items(value):
            empty = False
            scope: dict[str, Any] = {}
            if len(names) == 1:
                scope[names[0]] = item
            elif len(names) >= 2:
                scope[names[0]], scope[names[1]] = key, item
            self.nodes(node.body, item, [*scopes, scope], out)
        if empty:
            self.nodes(node.orelse, dot, [*scopes, {}], out)

    def pipe(self, pipe: _Pipe, dot: Any, scopes: list[dict[str, Any]]) -> Any:
        value: Any = None
        for i, cmd in enumerate(pipe.cmds):
            extra = [value] if i > 0 else []
            value = self.command(cmd, dot, scopes, extra)
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

    def command(self, cmd: list[_Operand], dot: Any, scopes: list[dict[str, Any]], extra: list[Any]) -> Any:
        self.budget.step()
        head = cmd[0]
        if head.kind == "ident":
            name = head.value
            if name in ("and", "or"):
                args = [*cmd[1:]]
                result: Any = None
                for op in args:
                    result = self.operand(op, dot, scopes)
                    if (name == "and") != _truth(result):
                        return result
                for v in extra:
                    result = v
                return result
            values = [self.operand(op, dot, scopes) for op in cmd[1:]] + extra
            if name in _JOINING:  # the joined text must fit before it is built
                self.budget.check_room(sum(len(v) for v in values if isinstance(v, str)))
            try:
                result = _FUNCS[name](*values)
            except TemplateError:
                raise
            except Exception as err:
                raise TemplateError(f"error calling {name}: {err}") from err
            if isinstance(result, str) and name != "index":
                self.budget.produced(result)
            return result
        if len(cmd) > 1 or extra:
            raise TemplateError("can't give argument to non-function")
        return self.operand(head, dot, scopes)

    def operand(self, op: _Operand, dot: Any, scopes: list[dict[str, Any]]) -> Any:
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
            value = self.pipe(op.value, dot, scopes)
        elif op.kind == "ident":
            value = _FUNCS[op.value]()
        else:
            return op.value
        for name in op.chain:
            value = _field(value, name)
        return value
