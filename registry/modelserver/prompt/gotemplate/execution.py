"""Executing a parsed template within a :class:`Budget`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from registry.modelserver.prompt.gotemplate.budget import Budget, BudgetExceeded, Limits, TemplateError
from registry.modelserver.prompt.gotemplate.functions import (
    FUNCTIONS,
    JOINING,
    field_of,
    text_of,
    truth,
    unwrap,
)
from registry.modelserver.prompt.gotemplate.syntax import Node, Operand, Pipe, parse_nodes

__all__ = ["Template", "parse"]


class Template:
    """A parsed template; :meth:`execute` renders it. Reusable and thread-safe."""

    def __init__(self, nodes: list[Node]) -> None:
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

    def nodes(self, nodes: list[Node], dot: Any, scopes: list[dict[str, Any]], out: list[str]) -> None:
        budget = self.budget
        for node in nodes:
            budget.step()
            if node.kind == "text":
                out.append(budget.produced(node.text))
            elif node.kind == "action":
                assert node.pipe is not None
                value = self.pipe(node.pipe, dot, scopes)
                if not node.pipe.decl:
                    out.append(budget.produced(text_of(value)))
            elif node.kind == "if":
                assert node.pipe is not None
                branch = node.body if truth(self.pipe(node.pipe, dot, scopes)) else node.orelse
                self.nodes(branch, dot, [*scopes, {}], out)
            elif node.kind == "with":
                assert node.pipe is not None
                value = self.pipe(node.pipe, dot, scopes)
                if truth(value):
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

    def range(self, node: Node, dot: Any, scopes: list[dict[str, Any]], out: list[str]) -> None:
        assert node.pipe is not None
        pipe = Pipe(node.pipe.cmds)
        value = unwrap(self.pipe(pipe, dot, scopes))
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

    def pipe(self, pipe: Pipe, dot: Any, scopes: list[dict[str, Any]]) -> Any:
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

    def command(self, cmd: list[Operand], dot: Any, scopes: list[dict[str, Any]], extra: list[Any]) -> Any:
        self.budget.step()
        head = cmd[0]
        if head.kind == "ident":
            name = head.value
            if name in ("and", "or"):
                args = [*cmd[1:]]
                result: Any = None
                for op in args:
                    result = self.operand(op, dot, scopes)
                    if (name == "and") != truth(result):
                        return result
                for v in extra:
                    result = v
                return result
            values = [self.operand(op, dot, scopes) for op in cmd[1:]] + extra
            if name in JOINING:  # the joined text must fit before it is built
                self.budget.check_room(sum(len(v) for v in values if isinstance(v, str)))
            try:
                result = FUNCTIONS[name](*values)
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

    def operand(self, op: Operand, dot: Any, scopes: list[dict[str, Any]]) -> Any:
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
            value = FUNCTIONS[op.value]()
        else:
            return op.value
        for name in op.chain:
            value = field_of(value, name)
        return value


def parse(source: str, limits: Limits | None = None) -> Template:
    """Parse a template. Raises :class:`TemplateError` with the offending position."""
    return Template(parse_nodes(source, limits))
