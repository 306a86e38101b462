"""Upload session ids: minted and checked in one place.

The OCI spec leaves an upload's location opaque, so the shape of an id is this registry's choice, not
part of the OCI grammar (which lives in :mod:`registry.oci.name`): 32 lower-case hex characters from
the system's CSPRNG. An id becomes a file name in the upload spool, so every id arriving in a URL is
checked against that shape before it is used.
"""

from __future__ import annotations

import re
import secrets

from registry.errors import UploadNotFound

__all__ = ["new_upload_id", "validate_upload_id"]

_UPLOAD_ID_RE = re.compile(r"[0-9a-f]{32}")


def new_upload_id() -> str:
    """A fresh, unguessable upload id (32 hex characters)."""
    return secrets.token_hex(16)


def validate_upload_id(upload_id: str) -> str:
    """Return ``upload_id`` when it has our shape (32 hex); else the session cannot exist.

    Raises:
        UploadNotFound: ``BLOB_UPLOAD_UNKNOWN``.
    """
    if not _UPLOAD_ID_RE.fullmatch(upload_id):
        raise UploadNotFound("blob upload unknown to registry")
    return upload_id
