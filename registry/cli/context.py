"""What every command handler gets: the parsed settings and a lazily opened library."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TextIO

from registry.config import Settings, load_settings

if TYPE_CHECKING:
    from registry.store.library import Library

__all__ = ["CliContext"]


@dataclass
class CliContext:
    """Settings plus resources opened on first use and closed by ``main``."""

    settings: Settings
    out: TextIO = field(default_factory=lambda: sys.stdout)
    err: TextIO = field(default_factory=lambda: sys.stderr)
    _library: Library | None = None

    @classmethod
    def from_environment(cls) -> CliContext:
        """Settings from ``os.environ``."""
        return cls(load_settings(os.environ))

    @property
    def library(self) -> Library:
        """The local library at ``settings.models_dir`` (opened, and migrated, on first use)."""
        if self._library is None:
            from registry.store.library import Library

            self._library = Library.open(self.settings.models_dir, self.settings.database_url)
        return self._library

    def print(self, *parts: object) -> None:
        """Write a line to standard output."""
        print(*parts, file=self.out)

    def close(self) -> None:
        """Release what was opened."""
        if self._library is not None:
            self._library.close()
            self._library = None
