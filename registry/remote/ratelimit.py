"""A token-bucket bandwidth limit shared by every connection of one operation (``--max-rate``)."""

from __future__ import annotations

import asyncio
import time

__all__ = ["RateLimiter"]


class RateLimiter:
    """Allows ``rate`` bytes per second on average, with a burst of a quarter second.

    ``rate=None`` disables the limit (``consume`` returns at once). One event loop; not thread-safe.
    """

    def __init__(self, rate: float | None) -> None:
        if rate is not None and rate <= 0:
            raise ValueError("max rate must be positive")
        self.rate = rate
        self._burst = (rate or 0) / 4
        self._tokens = self._burst
        self._stamp = time.monotonic()

    async def consume(self, n: int) -> None:
        """Wait until ``n`` more bytes may be transferred."""
        if self.rate is None:
            return
        now = time.monotonic()
        self._tokens = min(self._burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now
        self._tokens -= n
        if self._tokens < 0:
            await asyncio.sleep(-self._tokens / self.rate)
