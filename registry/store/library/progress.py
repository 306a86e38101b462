"""Progress is data: long operations (pull, push, create, import) yield :class:`Progress` events.

The CLI renders them as bars; the API streams them as NDJSON (``to_json()`` is exactly Ollama's
``ProgressResponse``: ``status`` plus optional ``digest``, ``total``, ``completed``). Library code
never prints.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["Progress"]


@dataclass(frozen=True, slots=True)
class Progress:
    """One progress event. ``status`` uses Ollama's exact wording (e.g. ``"pulling manifest"``,
    ``"pulling 8eeb52dfb3bb"``, ``"verifying sha256 digest"``, ``"writing manifest"``, ``"success"``).
    """

    status: str
    digest: str | None = None
    total: int | None = None
    completed: int | None = None

    def to_json(self) -> dict[str, Any]:
        """Ollama's ``ProgressResponse`` with empty fields omitted."""
        out: dict[str, Any] = {"status": self.status}
        if self.digest is not None:
            out["digest"] = self.digest
        if self.total is not None:
            out["total"] = self.total
        if self.completed is not None:
            out["completed"] = self.completed
        return out
