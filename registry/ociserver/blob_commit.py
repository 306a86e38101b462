"""Publishing verified blob bytes so that online GC can never take them from under an acknowledgement.

One protocol for every path that stores new bytes (an upload session's finish, a mirror fill):

1. under the writer lock: record (or revive) the blob row **and pin the digest** for this push;
2. only then look at the backend: store the file unless the bytes are already there;
3. under the writer lock: drop the pin, **and only if it was still there** link the blob into the
   repository (plus the caller's own change, e.g. forgetting the upload session).

Why this holds whatever the GC grace (see ``registry.ociserver.gc``): the sweep tombstones only
unpinned rows, and deletes bytes only of rows that are still tombstoned, both under the writer lock.
A pin that survives until step 3 therefore proves no sweep touched the digest since step 1, so the
bytes seen or stored in step 2 are still there when the link commits; from then on the link keeps
the blob visible until a sweep tombstones it, which drops the link in the same transaction. A pin
that is gone (it expired and a sweep dropped it) fails the commit with a :class:`StoreError` and
links nothing: the client pushes again.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from registry.errors import StoreError
from registry.oci.digest import Digest
from registry.ociserver.store import RegistryStore
from registry.store.catalog import RegistryCatalog

__all__ = ["PIN_SECONDS", "commit_blob"]

log = logging.getLogger(__name__)

PIN_SECONDS = 6 * 3600.0
"""How long a push's pin protects its blob if the push never finishes (a crash); a push that takes
longer than this to store its bytes fails instead of publishing a blob a sweep may have taken."""


async def commit_blob(
    store: RegistryStore,
    repo: str,
    digest: Digest,
    size: int,
    source: Path,
    holder: str,
    also: Callable[[Any], object] | None = None,
) -> None:
    """Store ``source`` (already verified to hash to ``digest``, ``size`` bytes) and link it into ``repo``.

    ``source`` is consumed when the backend did not hold the bytes yet. ``holder`` names this push's
    pin (an upload session id, a mirror fill): unique among pushes in flight. ``also`` runs in the
    linking transaction (only when the link is made).

    Raises:
        StoreError / DiskFull: the backend refused, or a sweep took the blob while it was being stored.
    """

    def pin(conn: Any) -> None:
        now = time.time()
        RegistryCatalog.touch_blob(conn, digest, size, now)
        RegistryCatalog.pin_blob(conn, digest, holder, now + PIN_SECONDS)

    def link(conn: Any) -> bool:
        if not RegistryCatalog.unpin_blob(conn, digest, holder):
            return False
        if not RegistryCatalog.link_blob(conn, repo, digest):
            return False
        if also is not None:
            also(conn)
        return True

    await store.write(pin)
    try:
        await _store_bytes(store, digest, size, source)
        linked = await store.write(link)
    except BaseException:
        with contextlib.suppress(Exception):
            await store.write(lambda c: RegistryCatalog.unpin_blob(c, digest, holder))
        raise
    if not linked:
        raise StoreError(
            f"blob {digest} was garbage-collected while it was being stored (the push took longer than "
            f"{PIN_SECONDS:.0f} s); push it again"
        )


async def _store_bytes(store: RegistryStore, digest: Digest, size: int, source: Path) -> None:
    """Hand ``source`` (``size`` verified bytes) to the backend unless it already holds them.

    A stored copy of another size (left by a bug or an older version) is replaced by the verified
    one, so a poisoned store heals at the next honest push.

    Raises:
        StoreError: the backend kept a copy of the wrong size.
    """
    backend = store.backend
    stored = await backend.stat(digest)
    if stored == size:
        return  # already there: same digest, same size
    if stored is not None:
        log.warning("stored blob %s has %d bytes, its verified upload %d: replacing it", digest, stored, size)
        await backend.delete(digest)
    await backend.put_file(digest, source)
    stored = await backend.stat(digest)
    if stored is not None and stored != size:
        raise StoreError(f"storing blob {digest} failed: {stored} bytes were stored instead of {size}")
