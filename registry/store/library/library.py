"""The :class:`Library`: one store root (blobs + catalog) with the invariants that make it safe.

Invariants (see also ``registry.store.catalog.schema``):

1. *Blobs first, catalog last.* A blob row is written only after its file was verified and given
   its digest name; a manifest and a model name only after every blob they need has a row.
2. *Every change to what exists or is referenced happens under the catalog's writer lock*
   (``Database.write()``): publishing a blob, naming a model, rm, prune, repair. Removing a blob is
   two steps, each under the lock: forget the row (with the names that needed it), then unlink the
   file only if no row came back meanwhile. A crash between the two leaves an orphan file, which
   prune collects; never a row without a file.
3. *Leases* protect digests that in-flight work is about to reference (a pull between its first
   blob and its manifest, a create reusing a layer); rm and prune skip leased digests.
4. *Every manifest is a blob, and every name is also in ``index.json``* (rewritten in the same
   transaction as the name change, see ``name_index``), so a lost catalog can be rebuilt from the
   store alone (``rebuild_catalog``). A catalog that is missing or empty next to blobs that models
   need is refused by every operation (see ``catalog_guard``) rather than read as an empty store.

All methods are synchronous and safe to call from several threads and several processes at once.
Async callers run them in a thread (``asyncio.to_thread``); each call is short except blob I/O.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from registry.errors import (
    BlobNotFound,
    CatalogError,
    InvalidManifest,
    InvalidWeights,
    ModelNotFound,
    Unsupported,
)
from registry.oci.digest import Digest
from registry.oci.manifest import Manifest
from registry.oci.name import ModelName
from registry.store.blobs import BlobStore, PartialBlob, StagedBlob, StoreLayout
from registry.store.blobs.oserrors import raise_store_error
from registry.store.catalog import Connection, Database, ModelRow, ModelsCatalog
from registry.store.gc import GcReport
from registry.store.library.catalog_guard import REBUILD_HINT, refuse_lost_catalog
from registry.store.library.compat_cache import (
    CompatCache,
    RunnableProjector,
    RunnableWeights,
    translation_notes,
)
from registry.store.library.gc import prune
from registry.store.library.lease import DEFAULT_LEASE_TTL, Lease
from registry.store.library.model_info import ModelInfo, read_config_json, read_model_info
from registry.store.library.name_index import write_index
from registry.store.library.rebuild import RebuildReport, rebuild
from registry.store.library.verify import VerifyReport, check

__all__ = ["Library", "PutResult", "RemoveResult"]

Q = ModelsCatalog


@dataclass(frozen=True, slots=True)
class PutResult:
    """What :meth:`Library.put_model` did."""

    digest: Digest
    previous: Digest | None


@dataclass(frozen=True, slots=True)
class RemoveResult:
    """What :meth:`Library.remove` and :meth:`Library.remove_unused` freed."""

    names: tuple[ModelName, ...] = ()
    blobs_removed: tuple[Digest, ...] = ()
    bytes_freed: int = 0
    kept_in_use: tuple[Digest, ...] = field(default=())


class Library:
    """A local model library rooted at ``layout.root``."""

    def __init__(self, layout: StoreLayout, database: Database) -> None:
        self.layout = layout
        self.db = database
        self.blobs = BlobStore(layout)
        self._compat = CompatCache(layout)

    @classmethod
    def open(
        cls, root: Path, database_url: str | None = None, *, allow_lost_catalog: bool = False
    ) -> Library:
        """Open (creating and migrating if needed) the library at ``root``.

        ``allow_lost_catalog`` skips :meth:`ensure_catalog` (only for rebuilding the catalog).

        Raises:
            StoreLayoutError: ``root`` is an Ollama models directory.
            CatalogError: the database cannot be opened or migrated, or it is lost (missing or
                empty next to blobs that models need; the message says how to rebuild it).
        """
        layout = StoreLayout(root.expanduser().resolve())
        layout.create()
        try:
            database = Database.for_store(layout.root, database_url)
        except CatalogError as err:
            if database_url is None and layout.has_blob_files():
                raise CatalogError(f"{err}; {REBUILD_HINT}") from err
            raise
        library = cls(layout, database)
        if not allow_lost_catalog:
            try:
                library.ensure_catalog()
            except BaseException:
                library.close()
                raise
        return library

    @property
    def catalog_location(self) -> str:
        """Where the catalog is, for messages: the SQLite file, or the database URL (no password)."""
        if self.db.is_sqlite and self.db.url == f"sqlite:///{self.layout.catalog_path}":
            return str(self.layout.catalog_path)
        return self.db.safe_url

    def ensure_catalog(self) -> None:
        """Refuse a lost catalog, and write a missing ``index.json``; see
        :func:`registry.store.library.catalog_guard.refuse_lost_catalog` (idempotent; raises CatalogError)."""
        refuse_lost_catalog(self)

    def close(self) -> None:
        """Release database connections."""
        self.db.dispose()

    # ---- reading -------------------------------------------------------------------------------

    def list_models(self) -> list[ModelRow]:
        """Every model, newest first. One query; no directory walk."""
        with self.db.read() as conn:
            return Q.list_models(conn)

    def models_version(self) -> int:
        """A number that changes whenever any model name, target or broken flag changes. One cheap
        query: callers cache derived views (such as ``/api/tags``) on it."""
        with self.db.read() as conn:
            return Q.models_version(conn)

    def find_model(self, name: ModelName) -> ModelRow | None:
        """The model called ``name`` (case-insensitive), or None. A name that pins a digest
        (``model@sha256:...``) finds the model only when its manifest has exactly that digest."""
        with self.db.read() as conn:
            return _matching(Q.get_model(conn, name), name)

    def get_model(self, name: ModelName) -> ModelRow:
        """The model called ``name``. Raises :class:`ModelNotFound` ("model 'x' not found")."""
        row = self.find_model(name)
        if row is None:
            raise _not_found(name)
        return row

    def manifest_of(self, row: ModelRow) -> Manifest:
        """The parsed manifest of a model (from its exact stored bytes)."""
        raw = self.blobs.read_bytes(row.manifest.digest)
        return Manifest.parse(raw)

    def model_info(self, name: ModelName) -> ModelInfo:
        """Everything ``show`` needs about a model. Raises :class:`ModelNotFound`."""
        row = self.get_model(name)
        return read_model_info(self.blobs, row, self.manifest_of(row))

    def has_blob(self, digest: Digest) -> bool:
        """True when the catalog knows the blob and its file is present."""
        with self.db.read() as conn:
            known = digest in Q.blob_rows(conn, [digest])
        return known and self.blobs.exists(digest)

    def missing_blobs(self, digests: Iterable[Digest]) -> list[Digest]:
        """Those digests the library does not have (in the given order, without repeats)."""
        wanted = list(dict.fromkeys(digests))
        with self.db.read() as conn:
            rows = Q.blob_rows(conn, wanted)
        return [d for d in wanted if d not in rows or not self.blobs.exists(d)]

    def blob_path(self, digest: Digest) -> Path:
        """The file of a blob the library has. Raises :class:`BlobNotFound`."""
        if not self.has_blob(digest):
            raise BlobNotFound(f"blob {digest} not found")
        return self.blobs.path(digest)

    def runnable_weights(self, digest: Digest) -> RunnableWeights:
        """The GGUF llama.cpp should load for the model blob ``digest``: the blob, or its
        translation in ``compat/`` (built on first use); see :mod:`.compat_cache`.

        Raises:
            Unsupported: an Ollama layout no translation fixes (the message says why).
            InvalidWeights, StoreError: not a GGUF, or the translation could not be written.
        """
        return self._compat.runnable_weights(digest)

    def runnable_projector(self, digest: Digest) -> RunnableProjector | None:
        """The vision projector inside the monolithic model blob ``digest`` (extracted into
        ``compat/`` on first use), or why it cannot be used; None when the blob has none. See
        :meth:`CompatCache.runnable_projector`."""
        return self._compat.runnable_projector(digest)

    def compat_status(self, info: ModelInfo) -> list[str]:
        """``show``'s ``compatibility`` list: what the GGUF compatibility layer changes in the
        model's weights, ``["cannot run: <why>"]`` for a layout it refuses, ``[]`` for a GGUF
        llama.cpp loads as stored (or no GGUF at all)."""
        if info.model_digest is None:
            return []
        try:
            return list(self.compat_notes(info.model_digest))
        except Unsupported as err:
            return [f"cannot run: {err}"]
        except (InvalidWeights, OSError):
            return []

    def compat_notes(self, digest: Digest) -> tuple[str, ...]:
        """What the compatibility layer changes in the blob ``digest`` (empty: nothing); reads
        the header only. Raises like :meth:`runnable_weights`, without writing anything."""
        return translation_notes(self.layout, digest)

    # ---- adding blobs --------------------------------------------------------------------------

    def commit(self, staged: StagedBlob, lease: Lease | None = None) -> tuple[Digest, int]:
        """Publish a staged, verified blob and record it (under the writer lock). Idempotent.

        Accepts a :class:`~registry.store.blobs.BlobWriter`, a linked file from ``stage_file``, or a
        verified :class:`~registry.store.blobs.PartialBlob`. With ``lease``, the blob is leased in the
        same transaction, so no GC can slip in between the commit and the manifest that will name it.
        """
        digest, size = staged.finish()
        try:
            with self.db.write() as conn:
                staged.publish()
                Q.record_blobs(conn, {digest: size})
                if lease is not None:
                    lease.add_in(conn, [digest])
        except BaseException:
            staged.abort()
            raise
        return digest, size

    def add_bytes(
        self, data: bytes, expected: Digest | None = None, *, lease: Lease | None = None
    ) -> tuple[Digest, int]:
        """Store a small blob from memory. Idempotent."""
        writer = self.blobs.writer(expected, len(data))
        with writer:
            writer.write(data)
            writer.finish()
        return self.commit(writer, lease)

    def add_file(
        self, source: Path, expected: Digest | None = None, *, link: bool = False, lease: Lease | None = None
    ) -> tuple[Digest, int]:
        """Store a file: a reflink clone or a copy, never sharing the source's inode (``link=True``
        only for files the store produced itself; see ``BlobStore.stage_file``). Idempotent."""
        return self.commit(self.blobs.stage_file(source, expected, link=link), lease)

    def commit_partial(
        self, partial: PartialBlob, already_hashed: Digest | None = None, *, lease: Lease | None = None
    ) -> tuple[Digest, int]:
        """Verify a finished partial download and commit it as a blob.

        Raises :class:`DigestMismatch` (the partial is discarded).
        """
        partial.verify(already_hashed)
        return self.commit(partial, lease)

    def partial(self, digest: Digest, size: int) -> PartialBlob:
        """A resumable partial file for a blob of known digest and size (not opened yet)."""
        return PartialBlob(self.blobs, digest, size)

    # ---- leases --------------------------------------------------------------------------------

    @contextmanager
    def lease(
        self, digests: Iterable[Digest], purpose: str, ttl: float = DEFAULT_LEASE_TTL
    ) -> Iterator[Lease]:
        """Protect ``digests`` from rm and prune for the duration of the ``with`` (or ``ttl`` seconds
        if the process dies). More digests can be added with ``lease.add(...)``.
        """
        handle = Lease(self.db, f"{purpose} pid={os.getpid()}@{socket.gethostname()}", ttl)
        handle.add(digests)
        try:
            yield handle
        finally:
            handle.release()

    # ---- naming models -------------------------------------------------------------------------

    def put_model(self, name: ModelName, manifest: Manifest) -> PutResult:
        """Store manifest bytes and point ``name`` at them. Blobs must already be in the library.

        Raises:
            InvalidManifest: an index, or a manifest with no config.
            BlobNotFound: naming the first blob the manifest needs that the library lacks.
        """
        if manifest.config is None:
            raise InvalidManifest("invalid manifest: a model manifest needs a config blob")
        config_json = read_config_json(self.blobs, manifest)
        needed = [d.digest for d in manifest.blobs()]
        writer = self.blobs.writer(None, len(manifest.raw))
        with writer:
            writer.write(manifest.raw)
            manifest_digest, size = writer.finish()
        try:
            # One transaction: the manifest bytes, their row, the layer index and the name appear
            # together, and no GC can run between them.
            with self.db.write() as conn:
                rows = Q.blob_rows(conn, needed)
                for digest in needed:
                    if digest not in rows:
                        raise BlobNotFound(
                            f"blob {digest} not found: pull or create the model's layers first"
                        )
                writer.publish()
                Q.record_blobs(conn, {manifest_digest: size})
                Q.put_manifest(conn, manifest, config_json)
                previous = Q.set_model(conn, name, manifest_digest)
                if previous == manifest_digest:
                    previous = None
                elif previous is not None:
                    Q.delete_manifest_if_unused(conn, previous)
                self.write_name_index(conn)
        finally:
            writer.abort()  # no-op after a successful publish
        return PutResult(manifest_digest, previous)

    def copy(self, source: ModelName, dest: ModelName) -> ModelRow:
        """Give the model ``source`` a second name. The manifest (and so the ID) is shared.

        Raises :class:`ModelNotFound`. Copying a name onto itself is a no-op.
        """
        with self.db.write() as conn:
            row = _matching(Q.get_model(conn, source), source)
            if row is None:
                raise _not_found(source)
            if source.key != dest.key:
                previous = Q.set_model(conn, dest, row.manifest.digest)
                if previous is not None and previous != row.manifest.digest:
                    Q.delete_manifest_if_unused(conn, previous)
                self.write_name_index(conn)
            result = Q.get_model(conn, dest)
        assert result is not None
        return result

    def remove(self, name: ModelName) -> RemoveResult:
        """Delete a model name, then every blob no other model or lease needs.

        Raises :class:`ModelNotFound`.
        """
        with self.db.write() as conn:
            if _matching(Q.get_model(conn, name), name) is None:
                raise _not_found(name)
            manifest_digest = Q.delete_model(conn, name)
            assert manifest_digest is not None
            candidates = [manifest_digest, *Q.manifest_blob_digests(conn, manifest_digest)]
            Q.delete_manifest_if_unused(conn, manifest_digest)
            self.write_name_index(conn)
        freed = self.remove_unused(candidates)
        return RemoveResult((name,), freed.blobs_removed, freed.bytes_freed, freed.kept_in_use)

    def remove_unused(self, candidates: Iterable[Digest]) -> RemoveResult:
        """Remove those ``candidates`` that nothing references or leases (Ollama's "removing unused
        layers"). Returns what was freed. Safe against concurrent commits (see module docstring).
        """
        wanted = list(dict.fromkeys(candidates))
        with self.db.write() as conn:
            unused = Q.unreferenced(conn, wanted)
            Q.delete_blob_rows(conn, unused)
        kept = tuple(d for d in wanted if d not in set(unused))
        removed, freed = self.unlink_forgotten(unused)
        return RemoveResult((), tuple(removed), freed, kept)

    def unlink_forgotten(self, digests: Iterable[Digest]) -> tuple[list[Digest], int]:
        """Unlink the files of blobs whose rows are gone, unless a row came back meanwhile."""
        removed: list[Digest] = []
        freed = 0
        wanted = list(digests)
        if not wanted:
            return removed, freed
        with self.db.write() as conn:
            back = Q.blob_rows(conn, wanted)
            for digest in wanted:
                if digest in back:
                    continue
                size = self.blobs.remove(digest)
                if size or not self.blobs.exists(digest):
                    removed.append(digest)
                    freed += size
        return removed, freed

    # ---- maintenance (implemented in gc.py and verify.py) ----------------------------------------

    def prune(self, *, dry_run: bool = False, grace_seconds: float = 3600.0) -> GcReport:
        """Mark and sweep (from synchronous code); see :func:`registry.store.library.gc.prune`."""
        return prune(self, dry_run=dry_run, grace_seconds=grace_seconds)

    def verify(self, *, repair: bool = False) -> VerifyReport:
        """Re-hash every blob and check the catalog; see :func:`registry.store.library.verify.check`."""
        return check(self, repair=repair)

    def rebuild_catalog(self) -> RebuildReport:
        """Restore lost names from the manifest blobs and ``index.json``; see
        :func:`registry.store.library.rebuild.rebuild`."""
        return rebuild(self)

    def write_name_index(self, conn: Connection) -> None:
        """Rewrite ``index.json`` from the names as ``conn``'s write transaction sees them (atomically:
        a reader sees the old index or the new one). Call it in every transaction that changes a name.

        Raises:
            DiskFull / StoreError: the index cannot be written (the caller's transaction then rolls back).
        """
        try:
            write_index(self.layout.index_path, Q.list_models(conn))
        except OSError as err:
            raise_store_error(err, "writing the store's name index")


def _matching(row: ModelRow | None, name: ModelName) -> ModelRow | None:
    """``row`` unless ``name`` pins a digest that is not the row's manifest digest."""
    if row is None or (name.digest is not None and row.manifest.digest != name.digest):
        return None
    return row


def _not_found(name: ModelName) -> ModelNotFound:
    """ "model 'x' not found", naming the digest too when ``name`` pins one."""
    shown = f"{name.display_shortest}@{name.digest}" if name.digest else name.display_shortest
    return ModelNotFound(f"model '{shown}' not found")
