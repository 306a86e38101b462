"""``PYTHONPATH`` for a Python subprocess that runs this checkout (the CLI, the servers, workers)."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["ROOT", "checkout_pythonpath"]

#: The repository root.
ROOT = Path(__file__).resolve().parents[2]


def checkout_pythonpath() -> str:
    """This checkout's root first, then what the session already has on ``PYTHONPATH`` (it holds the
    loopback-only guard's ``sitecustomize``: a subprocess given only the root would run unguarded)."""
    entries = [str(ROOT), *os.environ.get("PYTHONPATH", "").split(os.pathsep)]
    return os.pathsep.join(dict.fromkeys(entry for entry in entries if entry))
