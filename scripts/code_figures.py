"""Print size figures of the code: lines, files over 400 lines, functions over 50 lines.

Usage: python3 scripts/code_figures.py [ROOT ...]   (default: registry runner)
Lines count every line of every ``.py`` file (as ``wc -l`` does), code lines leave out blank lines,
comments and docstrings; a function's length is
``end_lineno - lineno + 1`` of its ``def`` (decorators excluded), nested functions counted on their own.
"""

from __future__ import annotations

import ast
import io
import sys
import tokenize
from pathlib import Path

FILE_LIMIT = 400
FUNCTION_LIMIT = 50


def code_lines(text: str) -> int:
    """Lines holding code: not blank, not only a comment, not part of a docstring."""
    docstrings: set[int] = set()
    for node in ast.walk(ast.parse(text)):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr):
            value = body[0].value
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                docstrings.update(range(value.lineno, (value.end_lineno or value.lineno) + 1))
    lines: set[int] = set()
    for tok in tokenize.generate_tokens(io.StringIO(text).readline):
        if tok.type not in (
            tokenize.COMMENT,
            tokenize.NL,
            tokenize.NEWLINE,
            tokenize.INDENT,
            tokenize.DEDENT,
        ):
            lines.update(range(tok.start[0], tok.end[0] + 1))
    return len(lines - docstrings)


def main(argv: list[str]) -> int:
    """Print the figures for the roots named in ``argv`` (or ``registry`` and ``runner``)."""
    roots = [Path(arg) for arg in argv] or [Path("registry"), Path("runner")]
    files = sorted(path for root in roots for path in root.rglob("*.py"))
    total = 0
    code = 0
    long_files: list[tuple[int, Path]] = []
    long_functions: list[tuple[int, str]] = []
    for path in files:
        text = path.read_text(encoding="utf-8")
        lines = text.count("\n")
        total += lines
        code += code_lines(text)
        if lines > FILE_LIMIT:
            long_files.append((lines, path))
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > FUNCTION_LIMIT:
                    long_functions.append((length, f"{path}:{node.lineno} {node.name}"))
    print(f"python files: {len(files)}  lines: {total}  code lines (no blanks, comments, docstrings): {code}")
    print(f"files over {FILE_LIMIT} lines: {len(long_files)}")
    for lines, path in sorted(long_files, reverse=True):
        print(f"  {lines:5d} {path}")
    print(f"functions over {FUNCTION_LIMIT} lines: {len(long_functions)}")
    for length, where in sorted(long_functions, reverse=True):
        print(f"  {length:5d} {where}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
