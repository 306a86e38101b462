"""Taking an exclusive ``flock`` from asyncio code without holding a thread while waiting.

``flock`` locks belong to an open file description: two opens of one file conflict even inside one
process, so the same lock serialises tasks and processes alike, and it vanishes with its holder
(SIGKILL included). Closing the descriptor releases it.
"""

from __future__ import annotations

import asyncio
import fcntl
from collections.abc import Callable

__all__ = ["flock_exclusive"]


async def flock_exclusive(fd: int, *, poll: float, while_waiting: Callable[[], None] | None = None) -> None:
    """Return once ``fd`` holds an exclusive ``flock``, trying every ``poll`` seconds meanwhile.

    ``while_waiting`` is called on each try that finds another holder (e.g. to report progress).

    Raises:
        OSError: the file system has no ``flock`` (other than "held by someone else").
    """
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if while_waiting is not None:
                while_waiting()
            await asyncio.sleep(poll)
