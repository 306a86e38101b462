"""The registry's garbage-collection queries: what a sweep may take, its tombstones, its pins.

Split from :mod:`registry.store.catalog.registry_queries` (pushes and pulls), which states the invariant these
rely on: a repository link exists only for a live (not tombstoned) row whose bytes are stored. The
sweep that composes them, and why that keeps every acknowledged manifest pullable, is
:mod:`registry.ociserver.gc` (the registry's side of :mod:`registry.store.gc`). Every function takes an
open connection; the sweep runs them inside ``Database.write()`` (the store-wide writer lock) so no
push interleaves.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from sqlalchemy import Connection, and_, delete, false, select, true, update

from registry.oci.digest import Digest
from registry.store.catalog.registry_tables import reg_blob_pins, reg_blobs, reg_manifest_refs, reg_repo_blobs

__all__ = ["RegistryGcQueries"]

_IN_BATCH = 1000  # digests per ``IN (...)``: SQLite bounds the parameters of one statement


def _digest_batches(digests: Sequence[Digest]) -> Iterator[list[str]]:
    """``digests`` as strings, in lists short enough for one ``IN (...)``."""
    for i in range(0, len(digests), _IN_BATCH):
        yield [str(d) for d in digests[i : i + _IN_BATCH]]


class RegistryGcQueries:
    """Stateless query namespace for a sweep of the registry tables (a class only to group them)."""

    @staticmethod
    def sweepable_blobs(conn: Connection, touched_before: float, now: float) -> list[tuple[Digest, int]]:
        """Live blobs no manifest references, untouched since ``touched_before`` (the grace cut-off)
        and not pinned by a push in flight (a pin counts until its ``expires_at`` passes ``now``).

        Run inside ``Database.write()`` together with :meth:`tombstone_blobs` so no push can interleave.
        """
        referenced = select(reg_manifest_refs.c.child_digest).where(reg_manifest_refs.c.kind == "blob")
        pinned = select(reg_blob_pins.c.digest).where(reg_blob_pins.c.expires_at >= now)
        stmt = select(reg_blobs.c.digest, reg_blobs.c.size).where(
            and_(
                reg_blobs.c.deleting == false(),
                reg_blobs.c.touched_at < touched_before,
                reg_blobs.c.digest.not_in(referenced),
                reg_blobs.c.digest.not_in(pinned),
            )
        )
        return [(Digest.parse_oci(r[0]), int(r[1])) for r in conn.execute(stmt).all()]

    @staticmethod
    def drop_expired_pins(conn: Connection, now: float) -> int:
        """Forget pins that expired before ``now`` (pushes that crashed or took far too long)."""
        return int(conn.execute(delete(reg_blob_pins).where(reg_blob_pins.c.expires_at < now)).rowcount)

    @staticmethod
    def tombstone_blobs(conn: Connection, digests: Sequence[Digest]) -> None:
        """Phase 1 of a sweep: drop every repository link to ``digests`` and mark their rows deleting.

        From the commit on, the blobs count as absent (uploads of them start over) and their bytes
        may go at any time; only :meth:`forget_tombstoned` removes the rows, after the bytes.
        """
        for part in _digest_batches(digests):
            conn.execute(delete(reg_repo_blobs).where(reg_repo_blobs.c.digest.in_(part)))
            conn.execute(update(reg_blobs).where(reg_blobs.c.digest.in_(part)).values(deleting=True))

    @staticmethod
    def tombstoned_blobs(
        conn: Connection, digests: Sequence[Digest] | None = None
    ) -> list[tuple[Digest, int]]:
        """Rows marked deleting (by this sweep or one that was interrupted), in digest order: all of
        them, or those among ``digests``."""
        stmt = select(reg_blobs.c.digest, reg_blobs.c.size).where(reg_blobs.c.deleting == true())
        if digests is None:
            parts: list[list[str] | None] = [None]
        else:
            parts = list(_digest_batches(digests))
        found: list[tuple[Digest, int]] = []
        for part in parts:
            query = stmt if part is None else stmt.where(reg_blobs.c.digest.in_(part))
            found.extend(
                (Digest.parse_oci(r[0]), int(r[1])) for r in conn.execute(query.order_by(reg_blobs.c.digest))
            )
        return found

    @staticmethod
    def forget_tombstoned(conn: Connection, digests: Sequence[Digest]) -> None:
        """Phase 2 of a sweep, after their bytes were deleted: delete rows still marked deleting."""
        for part in _digest_batches(digests):
            conn.execute(
                delete(reg_blobs).where(reg_blobs.c.digest.in_(part), reg_blobs.c.deleting == true())
            )

    @staticmethod
    def recorded_digests(conn: Connection, digests: Sequence[Digest]) -> set[Digest]:
        """Which of ``digests`` have a blob row in any state (bytes without one are orphans)."""
        found: set[Digest] = set()
        for part in _digest_batches(digests):
            stmt = select(reg_blobs.c.digest).where(reg_blobs.c.digest.in_(part))
            found.update(Digest.parse_oci(r) for r in conn.execute(stmt).scalars())
        return found
