"""The version of ollama-py: one value, read from the installed package's metadata (pyproject's
``version``), for the model server's ``/api/version``, the CLI's ``--version`` and the
``User-Agent`` of the registry client. Pure; imports nothing of the project."""

from __future__ import annotations

from importlib.metadata import version

__all__ = ["VERSION"]

#: The distribution's version (``importlib.metadata.version("ollama-py")``), as ``pyproject.toml`` sets it.
VERSION: str = version("ollama-py")
