"""Password checks (bcrypt, argon2) on their own bounded threads, with a short-lived cache of successes.

Contract:

- Checks run on a private pool of ``threads`` workers, never on the event loop's default executor
  (where catalog queries run), so a flood of password guesses cannot delay catalog or blob work.
- At most ``max_pending`` distinct checks wait or run at once; one more raises :class:`RateLimited`.
- Identical credentials checked concurrently share one check (one hash computation).
- A successful check is remembered for ``ttl`` seconds under HMAC-SHA256(process-random key,
  user, password, hash): the password itself is never stored, a changed hash misses, and the cache
  holds at most ``max_cached`` entries.
- A refused (user, password) pair is remembered the same way for ``refused_ttl`` seconds (the
  failed-login window): the same wrong password sent again (the parallel requests of one push, a
  client's retries) is refused at once, with no hash and without counting as another failed login.
  A repeated guess tells an attacker nothing new, so only distinct guesses are worth counting.
- An unknown user is checked against a configured user's hash and always fails, so it costs the
  same hash computation as a wrong password (no user enumeration by timing).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor

from registry.errors import RateLimited

__all__ = ["PasswordCheck", "PasswordVerifier"]


class PasswordCheck:
    """One (possibly shared) check in progress: ``started`` is False when it joined an earlier one
    or was answered from the cache."""

    __slots__ = ("future", "started")

    def __init__(self, future: asyncio.Future[bool], started: bool) -> None:
        self.future = future
        self.started = started


class PasswordVerifier:
    """Checks passwords against ``users`` (name -> bcrypt/argon2 hash); owns its threads (:meth:`close`)."""

    def __init__(
        self,
        users: Mapping[str, str],
        *,
        threads: int,
        max_pending: int,
        ttl: float,
        refused_ttl: float = 0.0,
        max_cached: int = 4096,
        on_hash: Callable[[], None] = lambda: None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._users = users
        self._dummy = next(iter(users.values()), None)
        self._max_pending = max_pending
        self._ttl = ttl
        self._refused_ttl = refused_ttl
        self._max_cached = max_cached
        self._on_hash = on_hash
        self._clock = clock
        self._key = secrets.token_bytes(32)
        self._verified: dict[bytes, float] = {}
        self._refused: dict[bytes, float] = {}
        self._pending: dict[bytes, asyncio.Future[bool]] = {}
        self._threads = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="password-check")

    def check(self, user: str, password: str) -> PasswordCheck:
        """Start (or join, or answer from the cache) the check of ``user``'s ``password``.

        Raises:
            RateLimited: ``max_pending`` distinct checks are already waiting or running.
        """
        hashed = self._users.get(user)
        key = self._cache_key(user, password, hashed)
        known = self._lookup(key, hashed, successes=True)
        if known is not None:
            return known
        loop = asyncio.get_running_loop()
        if len(self._pending) >= self._max_pending:
            raise RateLimited("too many password checks in progress; retry shortly", retry_after=1)
        if hashed is None:
            future = self._hash_for_nothing(loop, password)
        else:
            self._on_hash()
            future = loop.run_in_executor(self._threads, check_password, password, hashed)
        self._pending[key] = future
        future.add_done_callback(lambda done: self._settle(key, hashed is not None, done))
        return PasswordCheck(future, started=True)

    def known(self, user: str, password: str, *, successes: bool) -> PasswordCheck | None:
        """The answer for exactly these credentials when it is being computed or remembered as a
        refusal (or, with ``successes``, as a success): joining it costs no hash and is no new
        guess. None when a new check would be needed.

        A locked-out client may join only checks and refusals: were remembered successes answered
        to it, each of its guesses would learn whether it is a password used recently.
        """
        hashed = self._users.get(user)
        return self._lookup(self._cache_key(user, password, hashed), hashed, successes=successes)

    def _lookup(self, key: bytes, hashed: str | None, *, successes: bool) -> PasswordCheck | None:
        """:meth:`known` for an already computed cache ``key``."""
        now = self._clock()
        for cache, answer in ((self._verified, True), (self._refused, False)):
            if answer and not successes:
                continue
            if cache.get(key, 0.0) > now and (hashed is not None or not answer):
                done = asyncio.get_running_loop().create_future()
                done.set_result(answer)
                return PasswordCheck(done, started=False)
        pending = self._pending.get(key)
        return None if pending is None else PasswordCheck(pending, started=False)

    def close(self) -> None:
        """Stop the threads; checks not yet started are cancelled."""
        self._threads.shutdown(wait=False, cancel_futures=True)

    def _hash_for_nothing(self, loop: asyncio.AbstractEventLoop, password: str) -> asyncio.Future[bool]:
        """An unknown user: spend one real hash computation, then fail."""
        if self._dummy is None:  # no users at all: nothing to enumerate
            done = loop.create_future()
            done.set_result(False)
            return done
        self._on_hash()
        return loop.run_in_executor(self._threads, _always_false, password, self._dummy)

    def _settle(self, key: bytes, known: bool, done: asyncio.Future[bool]) -> None:
        self._pending.pop(key, None)
        if done.cancelled() or done.exception() is not None:
            return
        if done.result() and known:
            self._remember(self._verified, key, self._ttl)
        elif not done.result() and self._refused_ttl > 0:
            self._remember(self._refused, key, self._refused_ttl)

    def _remember(self, cache: dict[bytes, float], key: bytes, ttl: float) -> None:
        """Keep ``key`` in ``cache`` for ``ttl`` seconds (at most ``max_cached`` entries)."""
        now = self._clock()
        if len(cache) >= self._max_cached:
            for stale in [k for k, t in cache.items() if t <= now]:
                del cache[stale]
            while len(cache) >= self._max_cached:
                del cache[next(iter(cache))]
        cache.pop(key, None)
        cache[key] = now + ttl

    def _cache_key(self, user: str, password: str, hashed: str | None) -> bytes:
        material = json.dumps([user, password, hashed]).encode()
        return hmac.new(self._key, material, hashlib.sha256).digest()


def _always_false(password: str, hashed: str) -> bool:
    check_password(password, hashed)
    return False


def check_password(password: str, hashed: str) -> bool:
    """Whether ``password`` matches the bcrypt or argon2 ``hashed`` (False for a malformed hash)."""
    if hashed.startswith("$argon2"):
        try:
            from argon2 import PasswordHasher  # type: ignore[import-not-found]
            from argon2.exceptions import VerificationError  # type: ignore[import-not-found]
        except ImportError:  # pragma: no cover - argon2-cffi is optional
            return False
        try:
            return bool(PasswordHasher().verify(hashed, password))
        except VerificationError:
            return False
    import bcrypt

    try:
        return bool(bcrypt.checkpw(password.encode("utf-8", "surrogateescape"), hashed.encode()))
    except ValueError:
        return False
