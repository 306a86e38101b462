"""Cross-process (and cross-task) exclusive locks on one blob transfer: ``locks/<hex>.transfer``.

``flock`` locks belong to an open file description, so two opens of the same lock file conflict
even inside one process: two pulls of one blob in one server are serialised exactly like two pulls
in two processes. The lock vanishes with its holder (SIGKILL included); the file stays (harmless).
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from registry.store.blobs.file_lock import flock_exclusive

__all__ = ["blob_transfer_lock"]


@asynccontextmanager
async def blob_transfer_lock(
    path: Path, *, poll: float = 0.1, while_waiting: Callable[[], None] | None = None
) -> AsyncIterator[None]:
    """Hold an exclusive lock on ``path`` for the ``with`` body; polls without blocking the loop.

    ``while_waiting`` is called on each poll while another holder has it (e.g. to report progress).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        await flock_exclusive(fd, poll=poll, while_waiting=while_waiting)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
