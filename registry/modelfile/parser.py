"""Parse Modelfile text into a :class:`Modelfile` value. Pure: no I/O (paths are not resolved here).

The grammar is Ollama's (``parser/parser.go``), read statement by statement:

- A statement starts with an instruction (letters, any case) followed by a space or tab:
  FROM, PARAMETER, TEMPLATE, SYSTEM, ADAPTER, LICENSE, MESSAGE, REQUIRES, DRAFT, RENDERER, PARSER.
  ``PARAMETER`` takes a name (``[A-Za-z0-9_]+``) and ``MESSAGE`` a role before the value.
- ``#`` at the start of a statement makes the rest of the line a comment; elsewhere it is literal.
- A value runs to the end of the line and is trimmed. A value that starts with ``"`` or ``\"\"\"``
  continues over lines until a line ends with the matching quote; newlines and tabs inside are kept.
- Other non-printable characters are dropped; a UTF-8 or UTF-16 byte-order mark is honoured; CRLF
  line ends are read as LF.

Differences from Ollama (all stricter or clearer, never accepting less valid input):
errors name the line a statement starts on and say what was expected; an empty ``FROM`` or a
missing value is an error rather than a silent empty value; a non-``stop`` parameter given twice
keeps the last value (Ollama keeps the first) and warns; more than one ADAPTER is an error (Ollama
silently keeps the last).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from registry.errors import InvalidModelfile
from registry.modelfile.parameters import DEPRECATED_PARAMETERS, ParameterError, parse_parameter

__all__ = ["COMMANDS", "MESSAGE_ROLES", "Command", "Message", "Modelfile", "parse_modelfile"]

COMMANDS = (
    "from",
    "license",
    "template",
    "system",
    "adapter",
    "draft",
    "renderer",
    "parser",
    "parameter",
    "message",
    "requires",
)
MESSAGE_ROLES = ("system", "user", "assistant")

_INVALID_COMMAND = (
    'command must be one of "from", "license", "template", "system", "adapter", "draft", "renderer", '
    '"parser", "parameter", "message", or "requires"'
)
_SEMVER = re.compile(
    r"v?(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?)?)?"
)
_PARAM_NAME = re.compile(r"[A-Za-z0-9_]+")


@dataclass(frozen=True, slots=True)
class Command:
    """One statement: ``name`` is the lower-case instruction; ``key`` the parameter name or role."""

    name: str
    args: str
    line: int
    key: str | None = None


@dataclass(frozen=True, slots=True)
class Message:
    """A ``MESSAGE role content`` line."""

    role: str
    content: str

    def to_json(self) -> dict[str, str]:
        """The ``{"role", "content"}`` object stored in the messages layer."""
        return {"role": self.role, "content": self.content}


@dataclass(frozen=True, slots=True)
class Modelfile:
    """A parsed Modelfile. ``froms[0]`` is the base (a model name or a path, unresolved)."""

    froms: tuple[str, ...]
    adapters: tuple[str, ...] = ()
    template: str | None = None
    system: str | None = None
    parameters: Mapping[str, Any] = field(default_factory=dict)
    licenses: tuple[str, ...] = ()
    messages: tuple[Message, ...] = ()
    requires: str | None = None
    draft: str | None = None
    renderer: str | None = None
    parser: str | None = None
    warnings: tuple[str, ...] = ()
    commands: tuple[Command, ...] = ()

    @property
    def from_(self) -> str:
        """The first FROM value."""
        return self.froms[0]


def _decode(data: str | bytes) -> str:
    if isinstance(data, bytes):
        if data.startswith((b"\xff\xfe", b"\xfe\xff")):
            data = data.decode("utf-16", errors="replace")
        else:
            data = data.decode("utf-8", errors="replace")
    text = data.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    return "".join(c for c in text if c in "\n\t" or c.isprintable())


def _unquote(text: str) -> str | None:
    """Ollama's ``unquote``: the value without its quotes, or None while a quote is still open."""
    if text.startswith('"""'):
        return text[3:-3] if len(text) >= 6 and text.endswith('"""') else None
    if text.startswith('"'):
        return text[1:-1] if len(text) >= 2 and text.endswith('"') else None
    return text


class _Reader:
    """A cursor over the decoded text that knows its line number."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.line = 1

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def take_while(self, allowed: str | None = None, *, alpha: bool = False) -> str:
        start = self.pos
        while self.pos < len(self.text):
            c = self.text[self.pos]
            if (alpha and c.isascii() and c.isalpha()) or (allowed is not None and c in allowed):
                self.pos += 1
            else:
                break
        return self.text[start : self.pos]

    def skip_blank(self) -> None:
        """Skip spaces, tabs and newlines (counting lines)."""
        while self.peek() in (" ", "\t", "\n") and self.peek():
            if self.peek() == "\n":
                self.line += 1
            self.pos += 1

    def rest_of_line(self) -> str:
        end = self.text.find("\n", self.pos)
        end = len(self.text) if end < 0 else end
        chunk = self.text[self.pos : end]
        self.pos = end
        return chunk

    def value(self, start_line: int) -> str:
        """Read a value up to the end of a line where its quotes are balanced."""
        buffer = self.rest_of_line()
        while True:
            unquoted = _unquote(buffer.strip(" \t\n"))
            if unquoted is not None:
                return unquoted
            if not self.peek():
                quote = '"""' if buffer.strip(" \t\n").startswith('"""') else '"'
                raise InvalidModelfile(
                    f"(line {start_line}): unexpected end of file: the value starting here needs a "
                    f"closing {quote}"
                )
            self.pos += 1
            self.line += 1
            buffer += "\n" + self.rest_of_line()


_NAME_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_"


def _read_command(reader: _Reader) -> Command:
    line = reader.line
    word = reader.take_while(alpha=True)
    after = reader.peek()
    if not word or word.lower() not in COMMANDS or after not in (" ", "\t", "\n", ""):
        raise InvalidModelfile(f"(line {line}): {_INVALID_COMMAND}")
    name = word.lower()
    upper = word.upper()
    if after in ("\n", ""):
        raise InvalidModelfile(f"(line {line}): {upper} needs a value")
    reader.take_while(" \t")
    key: str | None = None
    if name in ("parameter", "message"):
        key = reader.take_while(_NAME_CHARS if name == "parameter" else None, alpha=name == "message")
        if not key or reader.peek() not in (" ", "\t"):
            what = "a parameter name and a value" if name == "parameter" else "a role and a message"
            raise InvalidModelfile(f"(line {line}): {upper} needs {what}")
        if name == "message" and key not in MESSAGE_ROLES:
            raise InvalidModelfile(
                f'(line {line}): message role must be one of "system", "user", or "assistant", not {key!r}'
            )
        reader.take_while(" \t")
    if reader.peek() in ("\n", "") and name not in ("system", "template", "license", "message"):
        raise InvalidModelfile(f"(line {line}): {upper} needs a value")
    return Command(name, reader.value(line), line, key)


def _commands(text: str) -> list[Command]:
    reader = _Reader(text)
    commands: list[Command] = []
    while True:
        reader.skip_blank()
        if not reader.peek():
            return commands
        if reader.peek() == "#":
            reader.rest_of_line()
            continue
        commands.append(_read_command(reader))


def parse_modelfile(data: str | bytes) -> Modelfile:
    """Parse a Modelfile.

    Raises:
        InvalidModelfile: ``(line N): ...`` naming the line and what was expected, ``no FROM line``,
            an unknown or mistyped parameter, a bad REQUIRES version, or an unclosed quote.
    """
    commands = _commands(_decode(data))
    return _assemble(commands)


@dataclass
class _Builder:
    froms: list[str] = field(default_factory=list)
    adapters: list[str] = field(default_factory=list)
    licenses: list[str] = field(default_factory=list)
    messages: list[Message] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)
    singles: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def add_parameter(self, cmd: Command) -> None:
        assert cmd.key is not None
        if cmd.key in DEPRECATED_PARAMETERS:
            self.warnings.append(f"parameter {cmd.key} is deprecated")
            return
        try:
            value = parse_parameter(cmd.key, cmd.args)
        except ParameterError as err:
            raise InvalidModelfile(f"(line {cmd.line}): {err}") from None
        if isinstance(value, list):
            self.params.setdefault(cmd.key, []).extend(value)
            return
        if cmd.key in self.params:
            self.warnings.append(f"(line {cmd.line}): parameter {cmd.key} set again; the last value wins")
        self.params[cmd.key] = value


def _requires(cmd: Command) -> str:
    version = cmd.args.strip()
    if not _SEMVER.fullmatch(version):
        raise InvalidModelfile(f"(line {cmd.line}): requires must be a valid semver (e.g. 0.14.0)")
    return version.removeprefix("v")


def _assemble(commands: list[Command]) -> Modelfile:
    b = _Builder()
    for cmd in commands:
        if cmd.name == "from":
            if not cmd.args.strip():
                raise InvalidModelfile(f"(line {cmd.line}): FROM needs a model name or a path")
            b.froms.append(cmd.args)
        elif cmd.name == "parameter":
            b.add_parameter(cmd)
        elif cmd.name == "adapter":
            if b.adapters:
                raise InvalidModelfile(f"(line {cmd.line}): only one adapter is currently supported")
            b.adapters.append(cmd.args)
        elif cmd.name == "license":
            b.licenses.append(cmd.args)
        elif cmd.name == "message":
            assert cmd.key is not None
            b.messages.append(Message(cmd.key, cmd.args))
        elif cmd.name == "requires":
            b.singles["requires"] = _requires(cmd)
        else:
            b.singles[cmd.name] = cmd.args
    if not b.froms:
        raise InvalidModelfile("no FROM line")
    return Modelfile(
        froms=tuple(b.froms),
        adapters=tuple(b.adapters),
        template=b.singles.get("template"),
        system=b.singles.get("system"),
        parameters=b.params,
        licenses=tuple(b.licenses),
        messages=tuple(b.messages),
        requires=b.singles.get("requires"),
        draft=b.singles.get("draft"),
        renderer=b.singles.get("renderer"),
        parser=b.singles.get("parser"),
        warnings=tuple(b.warnings),
        commands=tuple(commands),
    )
