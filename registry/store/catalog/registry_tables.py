"""Tables of the registry server (OCI Distribution). Built by migration ``0002``.

The registry keeps its own store root, separate from any local model library, with the same design:
content-addressed blob bytes in a blob backend (filesystem or S3) and everything else here.

- ``reg_blobs``: every blob the backend holds (or is about to hold). ``touched_at`` is refreshed
  *before* bytes are written to the backend. ``deleting`` is the sweep's tombstone: garbage
  collection first commits ``deleting = true`` (and drops the blob's links), then deletes the bytes
  and the row under the writer lock, so a crash at any point leaves no visible blob without bytes.
  A tombstoned row counts as absent; a push of the same digest revives it (and re-checks the bytes).
- ``reg_blob_pins``: a push in flight pins its digest (``holder`` = upload session id or mirror
  fill) from before its bytes are written until the transaction that links them; GC never
  tombstones a pinned digest, whatever its grace. Pins expire (``expires_at``) so a crashed push
  does not keep a blob forever.
- ``reg_repo_blobs``: repository-scoped links; a blob is visible in a repository only after it was
  pushed or mounted there. A foreign key ties each link to its ``reg_blobs`` row, and a link is only
  ever made to a live row whose bytes are stored: a link always means "servable".
- ``reg_manifests``: manifests per repository, exact bytes in ``content``; ``subject`` and
  ``artifact_type`` feed the referrers API.
- ``reg_manifest_refs``: what a manifest references (layers, config, index children): GC marks.
- ``reg_tags``: tag -> manifest digest per repository; ``validated_at`` is the mirror's freshness.
- ``reg_uploads``: upload sessions (data lives in ``<root>/uploads/<id>``), so they survive restarts.

Times are UNIX seconds (float).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    Table,
    Text,
    false,
)

from registry.store.catalog.schema import metadata

__all__ = [
    "reg_blob_pins",
    "reg_blobs",
    "reg_manifest_refs",
    "reg_manifests",
    "reg_repo_blobs",
    "reg_tags",
    "reg_uploads",
]

DIGEST = String(135)  # "sha512:" + 128 hex (sha256 digests are 71 characters)
REPO = String(256)

reg_blobs = Table(
    "reg_blobs",
    metadata,
    Column("digest", DIGEST, primary_key=True),
    Column("size", BigInteger, nullable=False),
    Column("touched_at", Float, nullable=False),
    Column("deleting", Boolean, nullable=False, server_default=false()),
)

reg_blob_pins = Table(
    "reg_blob_pins",
    metadata,
    Column("digest", DIGEST, primary_key=True),
    Column("holder", String(64), primary_key=True),
    Column("expires_at", Float, nullable=False),
)

reg_repo_blobs = Table(
    "reg_repo_blobs",
    metadata,
    Column("repo", REPO, primary_key=True),
    Column(
        "digest", DIGEST, ForeignKey("reg_blobs.digest", name="fk_reg_repo_blobs_digest"), primary_key=True
    ),
    Column("linked_at", Float, nullable=False),
    Index("ix_reg_repo_blobs_digest", "digest"),
)

reg_manifests = Table(
    "reg_manifests",
    metadata,
    Column("repo", REPO, primary_key=True),
    Column("digest", DIGEST, primary_key=True),
    Column("media_type", String(255), nullable=False),
    Column("content", LargeBinary, nullable=False),
    Column("subject", DIGEST, nullable=True),
    Column("artifact_type", String(255), nullable=True),
    Column("annotations", Text, nullable=True),
    Column("pushed_at", Float, nullable=False),
    Index("ix_reg_manifests_subject", "repo", "subject"),
)

reg_manifest_refs = Table(
    "reg_manifest_refs",
    metadata,
    Column("repo", REPO, primary_key=True),
    Column("manifest_digest", DIGEST, primary_key=True),
    Column("child_digest", DIGEST, primary_key=True),
    Column("kind", String(16), nullable=False),  # "blob" or "manifest"
    Index("ix_reg_manifest_refs_child", "child_digest"),
)

reg_tags = Table(
    "reg_tags",
    metadata,
    Column("repo", REPO, primary_key=True),
    Column("tag", String(128), primary_key=True),
    Column("digest", DIGEST, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("validated_at", Float, nullable=False),
    Index("ix_reg_tags_digest", "repo", "digest"),
)

reg_uploads = Table(
    "reg_uploads",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("repo", REPO, nullable=False),
    Column("offset", BigInteger, nullable=False),
    Column("started_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
)
