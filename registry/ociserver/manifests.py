"""Manifest, tag, referrers and catalog operations of the registry.

Manifests are stored as exact bytes in the catalog (they are small and read often). A manifest is
recorded only after every blob it names is linked into its repository (``MANIFEST_BLOB_UNKNOWN``
otherwise), in the same write transaction as that check, so GC cannot interleave.

A small read cache (per process) keeps resolved tags and manifest bytes for ``cache_seconds``:
changes made through this process invalidate it at once; changes made by another process sharing
the catalog become visible within ``cache_seconds``. ``cache_seconds = 0`` disables it.
"""

from __future__ import annotations

import json
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from registry.errors import (
    DigestMismatch,
    InvalidManifest,
    ManifestBlobUnknown,
    ModelNotFound,
    NameUnknown,
    TooLarge,
)
from registry.oci import mediatypes
from registry.oci.digest import Digest
from registry.oci.manifest import ManifestDocument
from registry.oci.name import Reference
from registry.ociserver.store import RegistryStore
from registry.store.catalog import ManifestRecord, RegistryCatalog

__all__ = ["ManifestService", "StoredManifest", "manifest_record"]

_CACHE_ENTRIES = 4096


@dataclass(frozen=True, slots=True)
class StoredManifest:
    """A manifest as served: digest, media type and exact bytes."""

    digest: Digest
    media_type: str
    content: bytes


def manifest_record(doc: ManifestDocument) -> ManifestRecord:
    """The catalog's record of a parsed manifest: its exact bytes and what the registry looks up by."""
    return ManifestRecord(
        digest=doc.digest,
        media_type=doc.media_type,
        content=doc.raw,
        subject=doc.subject.digest if doc.subject is not None else None,
        artifact_type=doc.referrer_artifact_type,
        annotations=json.dumps(dict(doc.annotations)) if doc.annotations else None,
        blob_refs=doc.blob_refs,
        manifest_refs=doc.manifest_refs,
    )


class ManifestService:
    """Manifests, tags and discovery over one :class:`RegistryStore`."""

    def __init__(self, store: RegistryStore, max_manifest_bytes: int, cache_seconds: float) -> None:
        self.store = store
        self.max_manifest_bytes = max_manifest_bytes
        self.cache_seconds = cache_seconds
        self._tags: OrderedDict[tuple[str, str], tuple[float, Digest]] = OrderedDict()
        self._manifests: OrderedDict[tuple[str, Digest], tuple[float, StoredManifest]] = OrderedDict()

    # -- cache -------------------------------------------------------------------------------------

    def _cached(self, cache: OrderedDict[Any, tuple[float, Any]], key: object) -> Any:
        hit = cache.get(key)
        if hit is None or hit[0] < time.monotonic():
            return None
        return hit[1]

    def _remember(self, cache: OrderedDict[Any, tuple[float, Any]], key: object, value: object) -> None:
        if self.cache_seconds <= 0:
            return
        cache[key] = (time.monotonic() + self.cache_seconds, value)
        cache.move_to_end(key)
        while len(cache) > _CACHE_ENTRIES:
            cache.popitem(last=False)

    def invalidate(self, repo: str) -> None:
        """Drop every cached entry of ``repo``."""
        for tag_key in [k for k in self._tags if k[0] == repo]:
            del self._tags[tag_key]
        for manifest_key in [k for k in self._manifests if k[0] == repo]:
            del self._manifests[manifest_key]

    # -- reads -------------------------------------------------------------------------------------

    async def resolve(self, repo: str, reference: Reference) -> Digest:
        """The digest a reference names in ``repo``. Raises :class:`ModelNotFound`."""
        if reference.digest is not None:
            return reference.digest
        assert reference.tag is not None
        key = (repo, reference.tag)
        cached = self._cached(self._tags, key)
        if cached is not None:
            return cached  # type: ignore[no-any-return]
        row = await self.store.read(lambda c: RegistryCatalog.resolve_tag(c, repo, reference.tag or ""))
        if row is None:
            raise ModelNotFound("manifest unknown to registry", detail={"tag": reference.tag})
        self._remember(self._tags, key, row.digest)
        return row.digest

    async def get(self, repo: str, reference: Reference) -> StoredManifest:
        """The manifest a reference names. Raises :class:`ModelNotFound`."""
        digest = await self.resolve(repo, reference)
        key = (repo, digest)
        cached = self._cached(self._manifests, key)
        if cached is not None:
            return cached  # type: ignore[no-any-return]
        found = await self.store.read(lambda c: RegistryCatalog.get_manifest(c, repo, digest))
        if found is None:
            raise ModelNotFound("manifest unknown to registry", detail={"digest": str(digest)})
        manifest = StoredManifest(digest, found[0], found[1])
        self._remember(self._manifests, key, manifest)
        return manifest

    async def tag_validated_at(self, repo: str, tag: str) -> float | None:
        """When a tag was last set or re-validated (mirror freshness), or None if unknown."""
        row = await self.store.read(lambda c: RegistryCatalog.resolve_tag(c, repo, tag))
        return None if row is None else row.validated_at

    # -- writes ------------------------------------------------------------------------------------

    async def put(
        self,
        repo: str,
        reference: Reference,
        content: bytes,
        content_type: str | None,
        tags: Sequence[str] = (),
    ) -> ManifestRecord:
        """Store a manifest (and point ``reference``'s tag and ``tags`` at it).

        Raises:
            TooLarge (413), InvalidManifest, DigestMismatch (PUT by a digest the bytes do not have),
            ManifestBlobUnknown (a layer or config is not in ``repo``).
        """
        if len(content) > self.max_manifest_bytes:
            raise TooLarge(f"manifest is larger than the limit of {self.max_manifest_bytes} bytes")
        # PUT by digest names the algorithm (sha256 or sha512); by tag, the digest is the sha256.
        algorithm = reference.digest.algorithm if reference.digest is not None else "sha256"
        doc = ManifestDocument.parse(content, content_type, algorithm=algorithm)
        record = manifest_record(doc)
        if reference.digest is not None and reference.digest != record.digest:
            raise DigestMismatch(
                "manifest digest does not match the reference",
                detail={"reference": str(reference.digest), "actual": str(record.digest)},
            )
        all_tags = list(dict.fromkeys(([reference.tag] if reference.tag else []) + list(tags)))
        sizes = doc.blob_sizes
        await self.store.write(lambda c: self._put_checked(c, repo, record, sizes, all_tags))
        self.invalidate(repo)
        return record

    def _put_checked(
        self, conn: Any, repo: str, record: ManifestRecord, sizes: dict[Digest, int], tags: list[str]
    ) -> None:
        linked = RegistryCatalog.linked_digests(conn, repo, record.blob_refs)
        missing = [d for d in record.blob_refs if d not in linked]
        if missing:
            raise ManifestBlobUnknown(
                "manifest references a blob unknown to the repository", detail={"digest": str(missing[0])}
            )
        self._check_sizes(conn, sizes)
        RegistryCatalog.put_manifest(conn, repo, record)
        for tag in tags:
            RegistryCatalog.set_tag(conn, repo, tag, record.digest)

    @staticmethod
    def _check_sizes(conn: Any, sizes: dict[Digest, int]) -> None:
        """Every declared size of a blob the catalog holds must be its stored size."""
        for digest, declared in sizes.items():
            stored = RegistryCatalog.blob_size(conn, digest)
            if stored is not None and stored != declared:
                raise InvalidManifest(
                    f"manifest invalid: {digest} is {stored} bytes but the manifest says {declared}",
                    detail={"digest": str(digest)},
                )

    async def record_mirrored(self, repo: str, record: ManifestRecord, tag: str | None) -> None:
        """Store a manifest fetched from the upstream (its blobs arrive lazily, so no blob check)."""

        def run(conn: Any) -> None:
            RegistryCatalog.put_manifest(conn, repo, record)
            if tag is not None:
                RegistryCatalog.set_tag(conn, repo, tag, record.digest)

        await self.store.write(run)
        self.invalidate(repo)

    async def touch_tag(self, repo: str, tag: str, digest: Digest) -> None:
        """Mark a mirrored tag as re-validated now (same digest upstream)."""
        await self.store.write(lambda c: RegistryCatalog.set_tag(c, repo, tag, digest))

    async def delete(self, repo: str, reference: Reference) -> None:
        """Delete a tag (by tag) or a manifest and all its tags (by digest). Raises :class:`ModelNotFound`."""
        if reference.tag is not None:
            done = await self.store.write(lambda c: RegistryCatalog.delete_tag(c, repo, reference.tag or ""))
        else:
            digest = reference.digest
            assert digest is not None
            done = await self.store.write(lambda c: RegistryCatalog.delete_manifest(c, repo, digest))
        self.invalidate(repo)
        if not done:
            raise ModelNotFound("manifest unknown to registry", detail={"reference": str(reference)})

    # -- discovery ---------------------------------------------------------------------------------

    async def tags(self, repo: str) -> list[str]:
        """Sorted tags of ``repo``. Raises :class:`NameUnknown` for a repository that does not exist."""

        def run(conn: Any) -> list[str] | None:
            tags = RegistryCatalog.tags(conn, repo)
            if not tags and not RegistryCatalog.repo_exists(conn, repo):
                return None
            return tags

        tags = await self.store.read(run)
        if tags is None:
            raise NameUnknown("repository name not known to registry", detail={"name": repo})
        return tags

    async def repositories(self) -> list[str]:
        """Every repository with a manifest, sorted."""
        return await self.store.read(RegistryCatalog.repositories)

    async def referrers(self, repo: str, subject: Digest, artifact_type: str | None) -> dict[str, Any]:
        """The referrers image index of ``subject`` in ``repo`` (filtered by ``artifact_type``)."""
        rows = await self.store.read(lambda c: RegistryCatalog.referrers(c, repo, subject))
        entries = []
        for row in rows:
            if artifact_type is not None and row.artifact_type != artifact_type:
                continue
            entry: dict[str, Any] = {"mediaType": row.media_type, "digest": str(row.digest), "size": row.size}
            if row.artifact_type:
                entry["artifactType"] = row.artifact_type
            if row.annotations:
                entry["annotations"] = json.loads(row.annotations)
            entries.append(entry)
        return {"schemaVersion": 2, "mediaType": mediatypes.OCI_INDEX, "manifests": entries}
