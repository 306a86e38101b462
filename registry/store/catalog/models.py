"""Queries and commands over the model library tables. Every function takes an open connection,
so the library composes them into one transaction (reads in ``Database.read()``, changes in
``Database.write()``).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, Table, delete, func, select, update

from registry.oci.digest import Digest
from registry.oci.manifest import Manifest
from registry.oci.name import ModelName
from registry.store.catalog.rows import BlobRow, ManifestRow, ModelRow, model_row
from registry.store.catalog.schema import blobs, catalog_state, leases, manifest_blobs, manifests, models

__all__ = ["BlobRow", "ManifestRow", "ModelRow", "ModelsCatalog"]

_IN_CHUNK = 5000  # stay well below SQLite's bound-parameter limit


def _insert_ignore(conn: Connection, table: Table, rows: Sequence[dict[str, Any]], keys: list[str]) -> None:
    if not rows:
        return
    dialect = conn.dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects import postgresql  # imported on use: keeps CLI start-up fast

        stmt: Any = postgresql.insert(table).on_conflict_do_nothing(index_elements=keys)
    elif dialect == "sqlite":
        from sqlalchemy.dialects import sqlite

        stmt = sqlite.insert(table).on_conflict_do_nothing(index_elements=keys)
    else:  # pragma: no cover - only the two dialects above are supported
        raise NotImplementedError(dialect)
    conn.execute(stmt, list(rows))


def _chunks(items: Sequence[str]) -> Iterable[Sequence[str]]:
    for i in range(0, len(items), _IN_CHUNK):
        yield items[i : i + _IN_CHUNK]


_MODEL_COLUMNS = (
    models.c.host,
    models.c.namespace,
    models.c.model,
    models.c.tag,
    models.c.modified_at,
    models.c.broken,
    manifests.c.digest,
    manifests.c.media_type,
    manifests.c.size,
    manifests.c.total_size,
    manifests.c.config_digest,
    manifests.c.config_json,
)


class ModelsCatalog:
    """Stateless query namespace for the model library tables (a class only to group them)."""

    # ---- blobs -------------------------------------------------------------------------------

    @staticmethod
    def record_blobs(conn: Connection, sizes: dict[Digest, int], now: float | None = None) -> None:
        """Record that these blobs are present and verified. Idempotent (existing rows are kept)."""
        at = time.time() if now is None else now
        rows = [{"digest": str(d), "size": s, "created_at": at} for d, s in sizes.items()]
        _insert_ignore(conn, blobs, rows, ["digest"])

    @staticmethod
    def blob_rows(conn: Connection, digests: Iterable[Digest] | None = None) -> dict[Digest, BlobRow]:
        """Blob rows for ``digests`` (all rows when None)."""
        out: dict[Digest, BlobRow] = {}
        query = select(blobs.c.digest, blobs.c.size, blobs.c.created_at)
        if digests is None:
            batches: Iterable[Any] = [conn.execute(query)]
        else:
            wanted = sorted({str(d) for d in digests})
            batches = (conn.execute(query.where(blobs.c.digest.in_(chunk))) for chunk in _chunks(wanted))
        for result in batches:
            for digest, size, created in result:
                d = Digest.parse(digest)
                out[d] = BlobRow(d, size, created)
        return out

    @staticmethod
    def has_blob_rows(conn: Connection) -> bool:
        """True when the catalog records any blob (a lost catalog, recreated empty, records none)."""
        return conn.execute(select(blobs.c.digest).limit(1)).first() is not None

    @staticmethod
    def delete_blob_rows(conn: Connection, digests: Iterable[Digest]) -> None:
        """Forget blobs (their files are removed afterwards by the caller)."""
        for chunk in _chunks(sorted(str(d) for d in digests)):
            conn.execute(delete(blobs).where(blobs.c.digest.in_(chunk)))

    @staticmethod
    def marked_digests(conn: Connection, now: float | None = None) -> set[str]:
        """Every digest something still needs: manifest bytes, their config and layers, live leases."""
        at = time.time() if now is None else now
        marked: set[str] = set(conn.execute(select(manifests.c.digest)).scalars())
        marked.update(conn.execute(select(manifest_blobs.c.digest).distinct()).scalars())
        marked.update(conn.execute(select(leases.c.digest).where(leases.c.expires_at > at)).scalars())
        return marked

    @staticmethod
    def unreferenced(
        conn: Connection, candidates: Iterable[Digest], now: float | None = None
    ) -> list[Digest]:
        """Those ``candidates`` that no manifest references, that are no manifest, and have no live lease."""
        wanted = sorted({str(d) for d in candidates})
        if not wanted:
            return []
        at = time.time() if now is None else now
        used: set[str] = set()
        for chunk in _chunks(wanted):
            used.update(
                conn.execute(
                    select(manifest_blobs.c.digest).where(manifest_blobs.c.digest.in_(chunk))
                ).scalars()
            )
            used.update(
                conn.execute(select(manifests.c.digest).where(manifests.c.digest.in_(chunk))).scalars()
            )
            used.update(
                conn.execute(
                    select(leases.c.digest).where(leases.c.digest.in_(chunk), leases.c.expires_at > at)
                ).scalars()
            )
        return [Digest.parse(d) for d in wanted if d not in used]

    # ---- manifests ---------------------------------------------------------------------------

    @staticmethod
    def put_manifest(conn: Connection, manifest: Manifest, config_json: str | None) -> Digest:
        """Record a manifest and its layer index. Idempotent. The caller has recorded its blobs."""
        digest = manifest.digest
        _insert_ignore(
            conn,
            manifests,
            [
                {
                    "digest": str(digest),
                    "media_type": manifest.media_type,
                    "size": len(manifest.raw),
                    "total_size": manifest.total_size,
                    "config_digest": str(manifest.config.digest) if manifest.config else None,
                    "config_json": config_json,
                    "created_at": time.time(),
                }
            ],
            ["digest"],
        )
        rows = [
            {
                "manifest_digest": str(digest),
                "position": i,
                "digest": str(d.digest),
                "media_type": d.media_type,
                "size": d.size,
            }
            for i, d in enumerate(manifest.blobs())
        ]
        _insert_ignore(conn, manifest_blobs, rows, ["manifest_digest", "position"])
        return digest

    @staticmethod
    def manifest_row(conn: Connection, digest: Digest) -> ManifestRow | None:
        """The summary of one stored manifest, or None."""
        row = conn.execute(
            select(
                manifests.c.digest,
                manifests.c.media_type,
                manifests.c.size,
                manifests.c.total_size,
                manifests.c.config_digest,
                manifests.c.config_json,
            ).where(manifests.c.digest == str(digest))
        ).first()
        if row is None:
            return None
        return ManifestRow(
            Digest.parse(row[0]), row[1], row[2], row[3], Digest.parse(row[4]) if row[4] else None, row[5]
        )

    @staticmethod
    def manifest_blob_digests(conn: Connection, digest: Digest) -> list[Digest]:
        """Config and layer digests of a stored manifest, in order."""
        rows = conn.execute(
            select(manifest_blobs.c.digest)
            .where(manifest_blobs.c.manifest_digest == str(digest))
            .order_by(manifest_blobs.c.position)
        ).scalars()
        return [Digest.parse(d) for d in rows]

    @staticmethod
    def delete_manifest_if_unused(conn: Connection, digest: Digest) -> bool:
        """Delete a manifest row (and its layer index) when no model names it. True if deleted."""
        in_use = conn.execute(
            select(func.count()).where(models.c.manifest_digest == str(digest))
        ).scalar_one()
        if in_use:
            return False
        conn.execute(delete(manifest_blobs).where(manifest_blobs.c.manifest_digest == str(digest)))
        conn.execute(delete(manifests).where(manifests.c.digest == str(digest)))
        return True

    @staticmethod
    def all_manifest_digests(conn: Connection) -> list[Digest]:
        """Every stored manifest."""
        return [Digest.parse(d) for d in conn.execute(select(manifests.c.digest)).scalars()]

    # ---- model names -------------------------------------------------------------------------

    @staticmethod
    def models_version(conn: Connection) -> int:
        """A counter that changes whenever any model name, target or flag changes (for caches)."""
        value = conn.execute(select(catalog_state.c.models_version).where(catalog_state.c.id == 1)).scalar()
        return int(value or 0)

    @staticmethod
    def _bump(conn: Connection) -> None:
        conn.execute(
            update(catalog_state)
            .where(catalog_state.c.id == 1)
            .values(models_version=catalog_state.c.models_version + 1)
        )

    @staticmethod
    def has_models(conn: Connection) -> bool:
        """True when any model name exists."""
        return conn.execute(select(models.c.id).limit(1)).first() is not None

    @staticmethod
    def set_model(
        conn: Connection, name: ModelName, manifest_digest: Digest, *, modified_at: float | None = None
    ) -> Digest | None:
        """Point ``name`` at a manifest; return the manifest it pointed at before (or None).

        An existing name that differs only in case keeps its original spelling (as Ollama does).
        ``modified_at`` (default: now) is for restoring a name as it was (catalog rebuild).
        """
        now = time.time() if modified_at is None else modified_at
        old = conn.execute(
            select(models.c.id, models.c.manifest_digest).where(models.c.name_key == name.key)
        ).first()
        if old is None:
            conn.execute(
                models.insert().values(
                    name_key=name.key,
                    host=name.host,
                    namespace=name.namespace,
                    model=name.model,
                    tag=name.tag,
                    manifest_digest=str(manifest_digest),
                    modified_at=now,
                    broken=False,
                )
            )
            ModelsCatalog._bump(conn)
            return None
        conn.execute(
            update(models)
            .where(models.c.id == old[0])
            .values(manifest_digest=str(manifest_digest), modified_at=now, broken=False)
        )
        ModelsCatalog._bump(conn)
        return Digest.parse(old[1])

    @staticmethod
    def get_model(conn: Connection, name: ModelName) -> ModelRow | None:
        """The model called ``name`` (case-insensitively), or None."""
        row = conn.execute(
            select(*_MODEL_COLUMNS)
            .join(manifests, manifests.c.digest == models.c.manifest_digest)
            .where(models.c.name_key == name.key)
        ).first()
        return None if row is None else model_row(row)

    @staticmethod
    def list_models(conn: Connection) -> list[ModelRow]:
        """Every model, newest first."""
        rows = conn.execute(
            select(*_MODEL_COLUMNS)
            .join(manifests, manifests.c.digest == models.c.manifest_digest)
            .order_by(models.c.modified_at.desc(), models.c.name_key)
        )
        return [model_row(row) for row in rows]

    @staticmethod
    def delete_model(conn: Connection, name: ModelName) -> Digest | None:
        """Remove a name; return the manifest digest it pointed at, or None if there was no such name."""
        row = conn.execute(select(models.c.manifest_digest).where(models.c.name_key == name.key)).first()
        if row is None:
            return None
        conn.execute(delete(models).where(models.c.name_key == name.key))
        ModelsCatalog._bump(conn)
        return Digest.parse(row[0])

    @staticmethod
    def models_using(conn: Connection, blob_digests: Iterable[Digest]) -> list[ModelRow]:
        """Models whose manifest is, or references, one of these blobs."""
        wanted = sorted({str(d) for d in blob_digests})
        out: dict[str, ModelRow] = {}
        for chunk in _chunks(wanted):
            via_layers = select(manifest_blobs.c.manifest_digest).where(manifest_blobs.c.digest.in_(chunk))
            rows = conn.execute(
                select(*_MODEL_COLUMNS)
                .join(manifests, manifests.c.digest == models.c.manifest_digest)
                .where(models.c.manifest_digest.in_(via_layers) | models.c.manifest_digest.in_(chunk))
            )
            for row in rows:
                model = model_row(row)
                out[model.name.key] = model
        return list(out.values())

    @staticmethod
    def set_broken(conn: Connection, names: Iterable[ModelName], broken: bool = True) -> None:
        """Flag models whose blobs are missing or corrupt (``verify --repair``)."""
        keys = [n.key for n in names]
        for chunk in _chunks(keys):
            conn.execute(update(models).where(models.c.name_key.in_(chunk)).values(broken=broken))
        if keys:
            ModelsCatalog._bump(conn)

    # ---- leases ------------------------------------------------------------------------------

    @staticmethod
    def add_leases(conn: Connection, digests: Iterable[Digest], holder: str, ttl: float) -> list[int]:
        """Protect digests from GC and rm until ``ttl`` seconds from now; returns the lease ids."""
        expires = time.time() + ttl
        ids = []
        for d in dict.fromkeys(digests):
            result = conn.execute(
                leases.insert().values(digest=str(d), holder=holder[:255], expires_at=expires)
            )
            key = result.inserted_primary_key
            assert key is not None
            ids.append(int(key[0]))
        return ids

    @staticmethod
    def extend_leases(conn: Connection, ids: Sequence[int], ttl: float) -> None:
        """Push the expiry of live leases to ``ttl`` seconds from now."""
        if ids:
            conn.execute(
                update(leases).where(leases.c.id.in_(list(ids))).values(expires_at=time.time() + ttl)
            )

    @staticmethod
    def release_leases(conn: Connection, ids: Sequence[int]) -> None:
        """Drop leases. Idempotent."""
        if ids:
            conn.execute(delete(leases).where(leases.c.id.in_(list(ids))))

    @staticmethod
    def purge_expired_leases(conn: Connection, now: float | None = None) -> int:
        """Delete expired leases; returns how many."""
        at = time.time() if now is None else now
        return int(conn.execute(delete(leases).where(leases.c.expires_at <= at)).rowcount or 0)
