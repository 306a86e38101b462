"""Failed-login rate limiting: at most ``limit`` failures per key in a sliding ``window``.

A key is a user name or a client address (IPv6 clients by their /64, since one host usually owns
a whole /64). A key is *blocked* while its failures in the window plus its password checks still
in flight reach ``limit``; checks in flight count so that 32 parallel guesses cannot all slip past
a limit of 10 before the first one fails. Memory is bounded: at most ``max_keys`` keys are
remembered per kind, the least recently failed forgotten first. Everything runs on the event loop
(no locks).
"""

from __future__ import annotations

import ipaddress
import math
import time
from collections import OrderedDict, deque
from collections.abc import Callable

__all__ = ["FailureWindow", "address_key"]


class FailureWindow:
    """Recent failures and in-flight attempts per key."""

    def __init__(
        self,
        limit: int,
        window: float,
        *,
        max_keys: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self.window = window
        self.max_keys = max_keys
        self._clock = clock
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._in_flight: dict[str, int] = {}

    def retry_after(self, key: str) -> int:
        """Whole seconds until ``key`` may try again; 0 when it may try now."""
        if self.limit <= 0:
            return 0
        now = self._clock()
        failures = self._recent(key, now)
        pending = self._in_flight.get(key, 0)
        if len(failures) + pending < self.limit:
            return 0
        if len(failures) < self.limit:
            return 1  # blocked only by checks still running: they finish within seconds
        return max(1, math.ceil(failures[-self.limit] + self.window - now))

    def begin(self, key: str) -> None:
        """An attempt for ``key`` started (pair with :meth:`end`)."""
        self._in_flight[key] = self._in_flight.get(key, 0) + 1

    def end(self, key: str, *, failed: bool) -> None:
        """The attempt for ``key`` finished; a failure is remembered for ``window`` seconds."""
        left = self._in_flight.get(key, 0) - 1
        if left > 0:
            self._in_flight[key] = left
        else:
            self._in_flight.pop(key, None)
        if not failed or self.limit <= 0:
            return
        failures = self._failures.pop(key, None)
        if failures is None:
            failures = deque(maxlen=self.limit)
        failures.append(self._clock())
        self._failures[key] = failures  # most recently failed last
        while len(self._failures) > self.max_keys:
            self._failures.popitem(last=False)

    def _recent(self, key: str, now: float) -> deque[float]:
        failures = self._failures.get(key)
        if failures is None:
            return deque()
        while failures and failures[0] <= now - self.window:
            failures.popleft()
        if not failures:
            del self._failures[key]
        return failures


def address_key(remote: str | None) -> str:
    """The throttling key for a client address: IPv4 as is, IPv6 by its /64 network."""
    if not remote:
        return "addr:unknown"
    try:
        address = ipaddress.ip_address(remote.split("%", 1)[0])
    except ValueError:
        return f"addr:{remote}"
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return f"addr:{address.ipv4_mapped}"
        return "addr:" + str(ipaddress.IPv6Network((address, 64), strict=False))
    return f"addr:{address}"
