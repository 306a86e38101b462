"""The files behind upload sessions: cutting a session's data back to its accepted bytes, re-hashing
its prefix after a restart, and the errors for data that is gone. Used by :mod:`registry.ociserver.uploads`."""

from __future__ import annotations

import contextlib
import hashlib
import os
from pathlib import Path

from registry.errors import UploadNotFound
from registry.store.blobs.appender import Appender
from registry.store.blobs.hashing import hash_prefix
from registry.store.blobs.oserrors import raise_store_error

__all__ = [
    "UploadDataLost",
    "close_and_cut",
    "close_appender",
    "cut_to",
    "data_gone",
    "is_published",
    "rehash_prefix",
    "touch",
]


class UploadDataLost(UploadNotFound):
    """The session's data file holds fewer bytes than the catalog accepted (404: start again)."""


def close_and_cut(f: Appender, path: Path, offset: int) -> None:
    """Close ``f`` and cut its file back to ``offset`` bytes, ignoring errors (a failed chunk's cleanup)."""
    with contextlib.suppress(OSError):
        f.close()
    with contextlib.suppress(OSError):
        os.truncate(path, offset)


def close_appender(f: Appender) -> None:
    """Close ``f``. Raises DiskFull / StoreError when the last write-back fails."""
    try:
        f.close()
    except OSError as err:
        raise_store_error(err, "writing an upload")


def cut_to(path: Path, offset: int) -> None:
    """Truncate ``path`` to ``offset`` bytes and check that it has exactly that many.

    Raises:
        UploadDataLost: the file is shorter than ``offset``.
        DiskFull / StoreError: the file system refused.
    """
    try:
        fd = os.open(path, os.O_WRONLY)
    except FileNotFoundError as err:
        raise data_gone() from err
    except OSError as err:
        raise_store_error(err, "sealing an upload")
        raise  # pragma: no cover
    try:
        st = os.fstat(fd)
        size = st.st_size
        if size > offset and st.st_nlink > 1:  # shared with a published blob: never cut that
            raise UploadDataLost("blob upload data damaged: it is linked elsewhere; start the upload again")
        if size > offset:
            os.ftruncate(fd, offset)
            size = os.fstat(fd).st_size
    except OSError as err:
        raise_store_error(err, "sealing an upload")
    finally:
        os.close(fd)
    if size != offset:
        raise UploadDataLost(
            f"blob upload data lost: {size} of its {offset} accepted bytes are left; start the upload again"
        )


def data_gone() -> UploadDataLost:
    """The error for a session whose data file is gone."""
    return UploadDataLost("blob upload unknown to registry: its data is gone; start the upload again")


def is_published(path: Path) -> bool:
    """True when the data file has another name: the publish step hard-links it to the blob and
    then removes this name, so a crash between the two leaves the session's file *being* the blob.
    Writing to it would change a published blob."""
    try:
        return os.stat(path).st_nlink > 1
    except FileNotFoundError:
        return False


def touch(path: Path) -> None:
    """Create the session's empty data file. Raises DiskFull / StoreError."""
    try:
        path.touch()
    except OSError as err:
        raise_store_error(err, "creating an upload")


def rehash_prefix(path: Path, offset: int, algorithm: str = "sha256") -> hashlib._Hash:
    """The hash of the session's first ``offset`` bytes, read back from its data file.

    Raises:
        UploadDataLost: the file is gone or shorter than ``offset``.
    """
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError as err:
        raise data_gone() from err
    try:
        hasher, hashed = hash_prefix(fd, offset, algorithm)
    finally:
        os.close(fd)
    if hashed < offset:
        raise UploadDataLost(
            f"blob upload data lost: fewer than its {offset} accepted bytes are left; start the upload again"
        )
    return hasher
