"""Repository names, tags, references and upload ids, checked against the OCI spec's grammar.

Everything that later becomes part of a storage key or a database value passes through here first,
so no name, tag or id can address anything outside the store root (``..``, ``/`` at the ends, NUL and
the like are all outside the grammar). Every pattern is applied with ``fullmatch``: ``$`` would also
match before a trailing newline, letting ``"v1\n"`` through as a tag.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from registry.errors import InvalidName, InvalidTag, UploadNotFound
from registry.oci.digest import Digest

__all__ = [
    "MAX_NAME_LENGTH",
    "Reference",
    "parse_digest",
    "parse_reference",
    "validate_repo",
    "validate_tag",
    "validate_upload_id",
]

#: Clients cap ``host[:port]/name`` at 255 characters; we allow the name itself up to 255.
MAX_NAME_LENGTH = 255

_COMPONENT = r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*"
_NAME_RE = re.compile(rf"{_COMPONENT}(?:/{_COMPONENT})*")
_TAG_RE = re.compile(r"[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}")
_UPLOAD_ID_RE = re.compile(r"[0-9a-f]{32}")


def validate_repo(name: str) -> str:
    """Return ``name`` when it is a valid repository name.

    Raises:
        InvalidName: ``NAME_INVALID`` with the reason.
    """
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidName(f"invalid repository name: longer than {MAX_NAME_LENGTH} characters")
    if not _NAME_RE.fullmatch(name):
        raise InvalidName(f"invalid repository name {name[:100]!r}: must match the OCI name grammar")
    return name


def validate_tag(tag: str) -> str:
    """Return ``tag`` when it is a valid tag. Raises :class:`InvalidTag`."""
    if not _TAG_RE.fullmatch(tag):
        raise InvalidTag(f"invalid tag {tag[:140]!r}: must match [a-zA-Z0-9_][a-zA-Z0-9._-]{{0,127}}")
    return tag


def validate_upload_id(upload_id: str) -> str:
    """Return ``upload_id`` when it has our shape (32 hex); else the session cannot exist.

    Raises:
        UploadNotFound: ``BLOB_UPLOAD_UNKNOWN``.
    """
    if not _UPLOAD_ID_RE.fullmatch(upload_id):
        raise UploadNotFound("blob upload unknown to registry")
    return upload_id


@dataclass(frozen=True, slots=True)
class Reference:
    """A manifest reference: exactly one of ``tag`` or ``digest``."""

    tag: str | None = None
    digest: Digest | None = None

    def __str__(self) -> str:
        return self.tag if self.tag is not None else str(self.digest)


def parse_reference(text: str) -> Reference:
    """A tag or a digest. Anything containing ``:`` must be a valid digest.

    Raises:
        InvalidDigest: a malformed or unsupported digest.
        InvalidTag: neither a tag nor a digest.
    """
    if ":" in text:
        return Reference(digest=Digest.parse_oci(text))
    return Reference(tag=validate_tag(text))


def parse_digest(text: str) -> Digest:
    """A ``sha256:<hex>`` or ``sha512:<hex>`` digest from a URL or query (the ``sha256-`` file spelling
    is refused).

    Raises:
        InvalidDigest: ``DIGEST_INVALID``.
    """
    return Digest.parse_oci(text)
