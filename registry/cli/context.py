"""What every command handler gets: the parsed settings and a lazily opened library."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TextIO

from registry.config import Settings, load_settings

if TYPE_CHECKING:
    from registry.cli.model_store import ModelStore
    from registry.store.library import Library

__all__ = ["CliContext"]


@dataclass
class CliContext:
    """Settings plus resources opened on first use and closed by ``main``."""

    settings: Settings
    out: TextIO = field(default_factory=lambda: sys.stdout)
    err: TextIO = field(default_factory=lambda: sys.stderr)
    _library: Library | None = None
    _models: ModelStore | None = None

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

    @property
    def models(self) -> ModelStore:
        """Where the model commands act (decided on first use): the server at ``OLLAMA_HOST``
        when one answers, else the local store in process (see ``registry.cli.model_store``)."""
        if self._models is None:
            from registry.cli.model_store import LocalStore, ServerStore, find_server
            from registry.config import HostAddress

            url = find_server(self.settings)
            if url is not None:
                self._models = ServerStore(url, is_default=self.settings.host == HostAddress())
            else:
                default_dir = self.settings.home / ".ollama-py" / "models"
                is_default = self.settings.models_dir.expanduser() == default_dir
                self._models = LocalStore(self.settings, lambda: self.library, is_default=is_default)
        return self._models

    def print(self, *parts: object) -> None:
        """Write a line to standard output."""
        print(*parts, file=self.out)

    def close(self) -> None:
        """Release what was opened."""
        if self._models is not None:
            self._models.close()
            self._models = None
        if self._library is not None:
            self._library.close()
            self._library = None
