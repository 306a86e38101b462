"""Leases: digests that in-flight work is about to reference (a pull between its first blob and its
manifest, a create reusing a layer), protected from rm and prune until released or expired."""

from __future__ import annotations

from collections.abc import Iterable

from registry.oci.digest import Digest
from registry.store.catalog import Connection, Database, ModelsCatalog

__all__ = ["DEFAULT_LEASE_TTL", "Lease"]

#: How long a lease protects digests if its holder never releases it (e.g. it was killed).
DEFAULT_LEASE_TTL = 3600.0

Q = ModelsCatalog


class Lease:
    """A set of lease rows held by one piece of in-flight work (see :meth:`Library.lease`)."""

    def __init__(self, db: Database, holder: str, ttl: float) -> None:
        self._db = db
        self._holder = holder
        self._ttl = ttl
        self._ids: list[int] = []

    def add(self, digests: Iterable[Digest]) -> None:
        """Protect more digests."""
        wanted = list(digests)
        if wanted:
            with self._db.write() as conn:
                self._ids.extend(Q.add_leases(conn, wanted, self._holder, self._ttl))

    def add_in(self, conn: Connection, digests: Iterable[Digest]) -> None:
        """Protect more digests inside the caller's write transaction."""
        self._ids.extend(Q.add_leases(conn, list(digests), self._holder, self._ttl))

    def renew(self) -> None:
        """Push the expiry forward (long transfers call this now and then)."""
        with self._db.write() as conn:
            Q.extend_leases(conn, self._ids, self._ttl)

    def release(self) -> None:
        """Drop the leases. Idempotent."""
        if self._ids:
            with self._db.write() as conn:
                Q.release_leases(conn, self._ids)
            self._ids = []
