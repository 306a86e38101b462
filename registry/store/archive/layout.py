"""The OCI image layout inside an archive: fixed names and the deterministic tar header."""

from __future__ import annotations

import tarfile

__all__ = ["INDEX", "OCI_LAYOUT", "OCI_LAYOUT_BYTES", "blob_member", "tar_info"]

OCI_LAYOUT = "oci-layout"
OCI_LAYOUT_BYTES = b'{"imageLayoutVersion":"1.0.0"}\n'
INDEX = "index.json"
BLOBS_PREFIX = "blobs/sha256/"


def blob_member(hex_digest: str) -> str:
    """``blobs/sha256/<hex>``."""
    return f"{BLOBS_PREFIX}{hex_digest}"


def tar_info(name: str, size: int, *, directory: bool = False) -> tarfile.TarInfo:
    """A tar header with every varying field pinned (mtime 0, root owner, fixed modes)."""
    info = tarfile.TarInfo(name)
    info.size = 0 if directory else size
    info.mtime = 0
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.mode = 0o755 if directory else 0o644
    info.type = tarfile.DIRTYPE if directory else tarfile.REGTYPE
    return info
