"""The client side of create: find the local files a Modelfile's FROM and ADAPTER lines name.

Paths are expanded as Ollama does (absolute, ``~``, ``~user``, or relative to the Modelfile's
directory). A FROM value that is not an existing path is a model name, unless it plainly is a path
(starts with ``/``, ``./``, ``../`` or ``~``, or ends in ``.gguf``): then it is a missing file, and
the error names the line (Ollama would try, and fail, to pull it as a model).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from registry.errors import InvalidModelfile
from registry.modelfile.parser import Modelfile

__all__ = ["LocalFiles", "find_local_files"]


@dataclass(frozen=True, slots=True)
class LocalFiles:
    """Files to upload, keyed by the name the create request will use (base names)."""

    files: dict[str, Path] = field(default_factory=dict)
    adapters: dict[str, Path] = field(default_factory=dict)


def _expand(value: str, base_dir: Path, where: str) -> Path:
    """``value`` as a path: ``~`` and ``~user`` expanded, relative to ``base_dir``.

    Raises:
        InvalidModelfile: ``~user`` names no user (or ``~`` has no home directory); ``where`` is
            the line and instruction, e.g. ``(line 1): FROM``.
    """
    try:
        path = Path(value).expanduser()
    except RuntimeError:  # pathlib: "Could not determine home directory."
        user = value[1:].split("/", 1)[0].split("\\", 1)[0]
        who = f"there is no user '{user}'" if user else "the home directory is unknown"
        raise InvalidModelfile(f"{where} {value}: {who}, so '~{user}' cannot be expanded") from None
    return path if path.is_absolute() else base_dir / path


def _looks_like_path(value: str) -> bool:
    return value.startswith(("/", "./", "../", "~", ".\\")) or value.lower().endswith((".gguf", ".bin"))


def _line_of(modelfile: Modelfile, name: str, value: str) -> int:
    for command in modelfile.commands:
        if command.name == name and command.args == value:
            return command.line
    return 0


def _add(target: dict[str, Path], path: Path, line: int) -> None:
    key = path.name
    if key in target and target[key] != path:
        raise InvalidModelfile(f"(line {line}): two files are both called {key!r}")
    target[key] = path


def _gguf_files(directory: Path, line: int) -> list[Path]:
    found = sorted(p for p in directory.iterdir() if p.is_file() and p.suffix.lower() == ".gguf")
    if not found:
        raise InvalidModelfile(f"(line {line}): no GGUF files found in directory {directory}")
    return found


def find_local_files(modelfile: Modelfile, base_dir: Path) -> LocalFiles:
    """Resolve FROM and ADAPTER paths. An empty ``files`` means FROM names a model.

    Raises:
        InvalidModelfile: ``(line N): FROM file not found: PATH``, a missing ADAPTER file, a
            directory with no GGUF files, a model name given as a second FROM.
    """
    out = LocalFiles()
    for index, value in enumerate(modelfile.froms):
        line = _line_of(modelfile, "from", value)
        path = _expand(value, base_dir, f"(line {line}): FROM")
        if path.is_dir():
            for found in _gguf_files(path, line):
                _add(out.files, found.resolve(), line)
        elif path.is_file():
            _add(out.files, path.resolve(), line)
        elif _looks_like_path(value):
            raise InvalidModelfile(f"(line {line}): FROM file not found: {path}")
        elif index > 0 or len(modelfile.froms) > 1:
            raise InvalidModelfile(
                f"(line {line}): only the first FROM may name a model; others must be files"
            )
    for value in modelfile.adapters:
        line = _line_of(modelfile, "adapter", value)
        path = _expand(value, base_dir, f"(line {line}): ADAPTER")
        if not path.is_file():
            raise InvalidModelfile(f"(line {line}): ADAPTER file not found: {path}")
        _add(out.adapters, path.resolve(), line)
    return out
