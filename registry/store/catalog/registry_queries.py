"""Queries and commands over the registry server's tables (see :mod:`registry.store.catalog.registry_tables`).

Every function takes an open connection so callers compose them into one transaction; anything that
changes which blobs are referenced runs inside ``Database.write()`` (the store-wide writer lock), which
is what makes online garbage collection safe. Repository names and tags arrive already validated.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Table, delete, exists, false, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from registry.oci.digest import Digest
from registry.store.catalog.registry_tables import (
    reg_blob_pins,
    reg_blobs,
    reg_manifest_refs,
    reg_manifests,
    reg_repo_blobs,
    reg_tags,
    reg_uploads,
)

__all__ = ["ManifestRecord", "ReferrerRow", "RegistryCatalog", "TagRow", "UploadRow"]


@dataclass(frozen=True, slots=True)
class ManifestRecord:
    """A manifest to store: exact bytes plus what was lifted from them."""

    digest: Digest
    media_type: str
    content: bytes
    subject: Digest | None
    artifact_type: str | None
    annotations: str | None
    blob_refs: tuple[Digest, ...]
    manifest_refs: tuple[Digest, ...]


@dataclass(frozen=True, slots=True)
class ReferrerRow:
    """A manifest whose ``subject`` is the digest asked about."""

    digest: Digest
    media_type: str
    size: int
    artifact_type: str | None
    annotations: str | None


@dataclass(frozen=True, slots=True)
class TagRow:
    """A tag and when it was last checked against an upstream."""

    digest: Digest
    validated_at: float


@dataclass(frozen=True, slots=True)
class UploadRow:
    """An upload session."""

    id: str
    repo: str
    offset: int
    started_at: float
    updated_at: float


def _upsert(
    conn: Connection, table: Table, row: dict[str, Any], keys: list[str], update_cols: list[str]
) -> None:
    dialect = conn.dialect.name
    if dialect == "postgresql":
        stmt: Any = postgresql.insert(table).values(**row)
    else:
        stmt = sqlite.insert(table).values(**row)
    if update_cols:
        stmt = stmt.on_conflict_do_update(
            index_elements=keys, set_={c: getattr(stmt.excluded, c) for c in update_cols}
        )
    else:
        stmt = stmt.on_conflict_do_nothing(index_elements=keys)
    conn.execute(stmt)


def _present_in_repo(conn: Connection, table: Table, repo: str, digests: Iterable[Digest]) -> set[Digest]:
    """Those ``digests`` that ``table`` (keyed by ``repo`` and ``digest``) holds for ``repo``."""
    wanted = sorted({str(d) for d in digests})
    if not wanted:
        return set()
    stmt = select(table.c.digest).where(table.c.repo == repo, table.c.digest.in_(wanted))
    return {Digest.parse_oci(r) for r in conn.execute(stmt).scalars()}


def _int_or_none(conn: Connection, stmt: Any) -> int | None:
    """The first column of the first row of ``stmt`` as an int, or None when there is no row."""
    value = conn.execute(stmt).scalar()
    return None if value is None else int(value)


class RegistryCatalog:
    """Stateless query namespace for the registry tables (a class only to group them)."""

    # -- blobs -------------------------------------------------------------------------------------
    #
    # Invariant that makes online GC safe (see ``registry.ociserver.gc``; its queries are in
    # ``registry_gc_queries``): a repository link exists only for a live (not tombstoned) row whose
    # bytes are stored. Links are made by :meth:`link_blob` after the caller stored (or saw) the bytes
    # while holding a pin, or copied from an existing link; the sweep drops every link of a blob in the
    # transaction that tombstones it, and deletes bytes only of tombstoned rows.

    @staticmethod
    def touch_blob(conn: Connection, digest: Digest, size: int, now: float | None = None) -> None:
        """Record (or refresh, or revive a tombstoned) blob row *before* its bytes are written.

        A revived row may have lost its bytes to the sweep: the caller must check the backend after
        this (and its pin) commit, never before.
        """
        row = {"digest": str(digest), "size": size, "touched_at": now or time.time(), "deleting": False}
        _upsert(conn, reg_blobs, row, ["digest"], ["touched_at", "deleting"])

    @staticmethod
    def pin_blob(conn: Connection, digest: Digest, holder: str, expires_at: float) -> None:
        """Keep GC off ``digest`` until :meth:`unpin_blob` (or ``expires_at``), whatever its grace."""
        row = {"digest": str(digest), "holder": holder, "expires_at": expires_at}
        _upsert(conn, reg_blob_pins, row, ["digest", "holder"], ["expires_at"])

    @staticmethod
    def unpin_blob(conn: Connection, digest: Digest, holder: str) -> bool:
        """Drop a pin. True when it was still there (so no sweep took the blob since it was pinned)."""
        result = conn.execute(
            delete(reg_blob_pins).where(
                reg_blob_pins.c.digest == str(digest), reg_blob_pins.c.holder == holder
            )
        )
        return bool(result.rowcount)

    @staticmethod
    def blob_size(conn: Connection, digest: Digest) -> int | None:
        """Size of a live blob row (any repository; its bytes may still be on their way), or None."""
        stmt = select(reg_blobs.c.size).where(
            reg_blobs.c.digest == str(digest), reg_blobs.c.deleting == false()
        )
        return _int_or_none(conn, stmt)

    @staticmethod
    def link_blob(conn: Connection, repo: str, digest: Digest, now: float | None = None) -> bool:
        """Make a blob visible in ``repo``; refreshes its ``touched_at``. Idempotent.

        Only for a blob whose bytes the caller knows are stored, and only while nothing can have swept
        them since (it held a pin, or copies an existing link, in this transaction). False, linking
        nothing, when the row is absent or tombstoned.
        """
        now = now or time.time()
        live = conn.execute(
            update(reg_blobs)
            .where(reg_blobs.c.digest == str(digest), reg_blobs.c.deleting == false())
            .values(touched_at=now)
        )
        if not live.rowcount:
            return False
        _upsert(
            conn,
            reg_repo_blobs,
            {"repo": repo, "digest": str(digest), "linked_at": now},
            ["repo", "digest"],
            ["linked_at"],
        )
        return True

    @staticmethod
    def repo_blob_size(conn: Connection, repo: str, digest: Digest) -> int | None:
        """Size of a blob linked into ``repo``, or None when it is not visible there."""
        stmt = (
            select(reg_blobs.c.size)
            .join(reg_repo_blobs, reg_repo_blobs.c.digest == reg_blobs.c.digest)
            .where(
                reg_repo_blobs.c.repo == repo,
                reg_blobs.c.digest == str(digest),
                reg_blobs.c.deleting == false(),
            )
        )
        return _int_or_none(conn, stmt)

    @staticmethod
    def linked_blob_size(conn: Connection, digest: Digest) -> int | None:
        """Size of a blob linked into *any* repository (so its bytes are stored), or None."""
        linked = exists().where(reg_repo_blobs.c.digest == reg_blobs.c.digest)
        stmt = select(reg_blobs.c.size).where(
            reg_blobs.c.digest == str(digest), reg_blobs.c.deleting == false(), linked
        )
        return _int_or_none(conn, stmt)

    @staticmethod
    def unlink_blob(conn: Connection, repo: str, digest: Digest) -> bool:
        """Remove a blob's link from ``repo`` (the bytes go at the next GC if nothing needs them)."""
        result = conn.execute(
            delete(reg_repo_blobs).where(
                reg_repo_blobs.c.repo == repo, reg_repo_blobs.c.digest == str(digest)
            )
        )
        return bool(result.rowcount)

    @staticmethod
    def linked_digests(conn: Connection, repo: str, digests: Iterable[Digest]) -> set[Digest]:
        """Which of ``digests`` are linked into ``repo`` (live rows only)."""
        wanted = sorted({str(d) for d in digests})
        if not wanted:
            return set()
        stmt = (
            select(reg_repo_blobs.c.digest)
            .join(reg_blobs, reg_blobs.c.digest == reg_repo_blobs.c.digest)
            .where(
                reg_repo_blobs.c.repo == repo,
                reg_repo_blobs.c.digest.in_(wanted),
                reg_blobs.c.deleting == false(),
            )
        )
        return {Digest.parse_oci(r) for r in conn.execute(stmt).scalars()}

    # -- manifests ---------------------------------------------------------------------------------

    @staticmethod
    def put_manifest(conn: Connection, repo: str, record: ManifestRecord, now: float | None = None) -> None:
        """Store a manifest in ``repo`` with its references (idempotent for the same digest)."""
        now = now or time.time()
        row = {
            "repo": repo,
            "digest": str(record.digest),
            "media_type": record.media_type,
            "content": record.content,
            "subject": None if record.subject is None else str(record.subject),
            "artifact_type": record.artifact_type,
            "annotations": record.annotations,
            "pushed_at": now,
        }
        _upsert(conn, reg_manifests, row, ["repo", "digest"], ["pushed_at"])
        refs = [(d, "blob") for d in record.blob_refs] + [(d, "manifest") for d in record.manifest_refs]
        for child, kind in dict(refs).items():
            _upsert(
                conn,
                reg_manifest_refs,
                {
                    "repo": repo,
                    "manifest_digest": str(record.digest),
                    "child_digest": str(child),
                    "kind": kind,
                },
                ["repo", "manifest_digest", "child_digest"],
                [],
            )

    @staticmethod
    def existing_manifests(conn: Connection, repo: str, digests: Iterable[Digest]) -> set[Digest]:
        """Which of ``digests`` are manifests stored in ``repo``."""
        return _present_in_repo(conn, reg_manifests, repo, digests)

    @staticmethod
    def get_manifest(conn: Connection, repo: str, digest: Digest) -> tuple[str, bytes] | None:
        """``(media_type, exact bytes)`` of a manifest in ``repo``, or None."""
        stmt = select(reg_manifests.c.media_type, reg_manifests.c.content).where(
            reg_manifests.c.repo == repo, reg_manifests.c.digest == str(digest)
        )
        row = conn.execute(stmt).first()
        return None if row is None else (str(row[0]), bytes(row[1]))

    @staticmethod
    def delete_manifest(conn: Connection, repo: str, digest: Digest) -> bool:
        """Delete a manifest from ``repo`` with every tag pointing at it. False when absent."""
        d = str(digest)
        conn.execute(delete(reg_tags).where(reg_tags.c.repo == repo, reg_tags.c.digest == d))
        conn.execute(
            delete(reg_manifest_refs).where(
                reg_manifest_refs.c.repo == repo, reg_manifest_refs.c.manifest_digest == d
            )
        )
        result = conn.execute(
            delete(reg_manifests).where(reg_manifests.c.repo == repo, reg_manifests.c.digest == d)
        )
        return bool(result.rowcount)

    @staticmethod
    def referrers(conn: Connection, repo: str, subject: Digest) -> list[ReferrerRow]:
        """Manifests in ``repo`` whose subject is ``subject``, ordered by digest."""
        stmt = (
            select(
                reg_manifests.c.digest,
                reg_manifests.c.media_type,
                reg_manifests.c.content,
                reg_manifests.c.artifact_type,
                reg_manifests.c.annotations,
            )
            .where(reg_manifests.c.repo == repo, reg_manifests.c.subject == str(subject))
            .order_by(reg_manifests.c.digest)
        )
        return [
            ReferrerRow(Digest.parse_oci(r[0]), str(r[1]), len(r[2]), r[3], r[4])
            for r in conn.execute(stmt).all()
        ]

    # -- tags and repositories ---------------------------------------------------------------------

    @staticmethod
    def resolve_tag(conn: Connection, repo: str, tag: str) -> TagRow | None:
        """The manifest a tag points at, or None."""
        stmt = select(reg_tags.c.digest, reg_tags.c.validated_at).where(
            reg_tags.c.repo == repo, reg_tags.c.tag == tag
        )
        row = conn.execute(stmt).first()
        return None if row is None else TagRow(Digest.parse_oci(row[0]), float(row[1]))

    @staticmethod
    def set_tag(conn: Connection, repo: str, tag: str, digest: Digest, now: float | None = None) -> None:
        """Point ``tag`` at ``digest`` (creating or moving it); marks it validated now."""
        now = now or time.time()
        row = {"repo": repo, "tag": tag, "digest": str(digest), "updated_at": now, "validated_at": now}
        _upsert(conn, reg_tags, row, ["repo", "tag"], ["digest", "updated_at", "validated_at"])

    @staticmethod
    def delete_tag(conn: Connection, repo: str, tag: str) -> bool:
        """Remove a tag (the manifest stays). False when absent."""
        result = conn.execute(delete(reg_tags).where(reg_tags.c.repo == repo, reg_tags.c.tag == tag))
        return bool(result.rowcount)

    @staticmethod
    def tags(conn: Connection, repo: str) -> list[str]:
        """Every tag in ``repo``, sorted by code point (like Go's sort.Strings)."""
        stmt = select(reg_tags.c.tag).where(reg_tags.c.repo == repo)
        return sorted(str(t) for t in conn.execute(stmt).scalars())

    @staticmethod
    def repo_exists(conn: Connection, repo: str) -> bool:
        """True when ``repo`` has any manifest or blob link."""
        for table in (reg_manifests, reg_repo_blobs):
            if conn.execute(select(table.c.repo).where(table.c.repo == repo).limit(1)).first() is not None:
                return True
        return False

    @staticmethod
    def storage_totals(conn: Connection) -> tuple[int, int]:
        """``(bytes of stored blobs not being deleted, repositories holding a manifest)``."""
        stored = conn.execute(
            select(func.coalesce(func.sum(reg_blobs.c.size), 0)).where(reg_blobs.c.deleting == false())
        ).scalar_one()
        repos = conn.execute(select(func.count(func.distinct(reg_manifests.c.repo)))).scalar_one()
        return int(stored), int(repos)

    @staticmethod
    def repositories(conn: Connection) -> list[str]:
        """Every repository holding a manifest, sorted."""
        return sorted(str(r) for r in conn.execute(select(reg_manifests.c.repo).distinct()).scalars())

    # -- upload sessions ---------------------------------------------------------------------------

    @staticmethod
    def create_upload(conn: Connection, upload_id: str, repo: str, now: float | None = None) -> None:
        """Record a new upload session at offset 0."""
        now = now or time.time()
        conn.execute(
            reg_uploads.insert().values(id=upload_id, repo=repo, offset=0, started_at=now, updated_at=now)
        )

    @staticmethod
    def get_upload(conn: Connection, upload_id: str) -> UploadRow | None:
        """An upload session, or None."""
        row = conn.execute(select(reg_uploads).where(reg_uploads.c.id == upload_id)).first()
        if row is None:
            return None
        return UploadRow(
            str(row.id), str(row.repo), int(row.offset), float(row.started_at), float(row.updated_at)
        )

    @staticmethod
    def set_upload_offset(conn: Connection, upload_id: str, offset: int, now: float | None = None) -> None:
        """Record how many bytes a session holds."""
        conn.execute(
            update(reg_uploads)
            .where(reg_uploads.c.id == upload_id)
            .values(offset=offset, updated_at=now or time.time())
        )

    @staticmethod
    def delete_upload(conn: Connection, upload_id: str) -> bool:
        """Forget a session. False when absent."""
        return bool(conn.execute(delete(reg_uploads).where(reg_uploads.c.id == upload_id)).rowcount)

    @staticmethod
    def stale_uploads(conn: Connection, older_than: float) -> list[str]:
        """Ids of sessions not updated since ``older_than``."""
        stmt = select(reg_uploads.c.id).where(reg_uploads.c.updated_at < older_than)
        return [str(i) for i in conn.execute(stmt).scalars()]

    @staticmethod
    def upload_ids(conn: Connection) -> set[str]:
        """Ids of every live session."""
        return {str(i) for i in conn.execute(select(reg_uploads.c.id)).scalars()}
