"""A verifying blob writer: every byte is hashed on the way in; the final name appears only on a match.

Life cycle::

    writer = store.writer(expected=digest, expected_size=size)   # tmp/<random> opened
    writer.write(chunk) ...                                       # hashed and written
    digest, size = writer.finish()                                # fsync + compare (DigestMismatch)
    writer.publish()                                              # link into blobs/ (atomic)

The writer records the file's size and modification time after each of its own writes and after the
final check: bytes that reach the file any other way (appended, or written in place) are refused by
``finish``/``publish`` (:class:`DigestMismatch`), never published.

``abort()`` (also on any exception inside ``with``) removes the temporary file. A crash leaves at
worst a file in ``tmp/``, which prune sweeps; never a wrong blob under a digest name.

Liveness: a writer holds a shared ``flock`` on its temporary file from creation until publish or
abort. Prune removes only temporary files it can lock exclusively, so it never pulls a file from
under a live writer in another process, and a killed writer's lock disappears with it.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Protocol

from registry.errors import DigestMismatch, SizeInvalid
from registry.oci.digest import Digest
from registry.store.blobs.appender import open_appender
from registry.store.blobs.hashing import OverlappedHasher
from registry.store.blobs.oserrors import raise_store_error

__all__ = [
    "BlobWriter",
    "LinkedBlob",
    "StagedBlob",
    "file_state",
    "hold_open_locked",
    "publish_file",
    "refuse_if_changed",
]


def file_state(fd: int) -> tuple[int, int]:
    """``(size, mtime_ns)`` of an open file: what a verifying writer records when it has checked the
    bytes, and compares again just before it publishes them."""
    st = os.fstat(fd)
    return st.st_size, st.st_mtime_ns


def refuse_if_changed(fd: int, verified: tuple[int, int] | None, name: str) -> None:
    """Raise :class:`DigestMismatch` unless the file is as it was when checked (``verified`` is
    :func:`file_state` then; None: never checked). The caller discards the file. Raises ``OSError``."""
    if verified is None or file_state(fd) != verified:
        raise DigestMismatch(f"blob {name}: its file changed behind the writer's back; nothing was stored")


def hold_open_locked(path: Path, flags: int, mode: int = 0o644) -> int:
    """Open ``path`` and take a shared flock that marks it as in use; return the fd.

    If prune unlinked the file between our open and our lock (it checks the lock first, so only in
    that instant), the name is gone: open it again.
    """
    for _ in range(5):
        fd = os.open(path, flags, mode)
        fcntl.flock(fd, fcntl.LOCK_SH)
        if os.fstat(fd).st_nlink > 0:
            return fd
        os.close(fd)
        flags &= ~os.O_EXCL
    raise FileNotFoundError(path)


def fsync_dir(path: Path) -> None:
    """fsync a directory so a rename in it is durable (best effort where unsupported)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def publish_file(source: Path, final: Path, *, readonly: bool = True) -> bool:
    """Atomically give ``source`` the name ``final`` if nothing has it yet; remove ``source``.

    Returns True when this call created ``final``, False when it already existed (which is success:
    the content is the same by construction). Safe against a concurrent publisher of the same blob.
    ``readonly=False`` leaves the mode alone (for files hard-linked from outside the store, whose
    inode the user or Ollama still shares).
    """
    final.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, final)
        created = True
    except FileExistsError:
        created = False
    except OSError as err:
        if err.errno not in (errno.EPERM, errno.ENOTSUP, errno.EXDEV):
            raise
        # Filesystems without hard links: rename (atomic; replacing equal content is harmless).
        os.replace(source, final)
        fsync_dir(final.parent)
        return True
    source.unlink(missing_ok=True)
    if created and readonly:
        os.chmod(final, 0o444)
        fsync_dir(final.parent)
    return created


class BlobWriter:
    """Hashes and writes one blob to a temporary file. Not safe for concurrent use by several tasks.

    ``expected`` and ``expected_size`` are optional promises; a broken promise raises
    :class:`DigestMismatch` / :class:`SizeInvalid` and leaves nothing behind.
    """

    def __init__(
        self,
        tmp_dir: Path,
        final_path_for: Callable[[Digest], Path],
        expected: Digest | None = None,
        expected_size: int | None = None,
    ) -> None:
        self._final_path_for = final_path_for
        self.expected = expected
        self.expected_size = expected_size
        self.tmp_path = tmp_dir / f"w-{secrets.token_hex(8)}"
        self._hasher = OverlappedHasher(hashlib.sha256())
        self.size = 0
        self._digest: Digest | None = None
        self._verified: tuple[int, int] | None = None
        self._published: Path | None = None
        self._lock_fd = -1
        try:
            self._lock_fd = hold_open_locked(self.tmp_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
            # Large writes bypass the page cache (O_DIRECT where the file system allows): buffered
            # writes on this kind of VM are throttled by dirty-page writeback (see appender.py).
            self._appender = open_appender(self.tmp_path, 0)
            self._written = file_state(self._lock_fd)  # the file as our own writes left it
        except OSError as err:
            self._close_lock()
            self.tmp_path.unlink(missing_ok=True)
            raise_store_error(err, "creating a temporary blob file")
            raise  # pragma: no cover - raise_store_error always raises

    def write(self, data: bytes | bytearray | memoryview) -> None:
        """Hash and write ``data``.

        Raises:
            SizeInvalid: when more bytes arrive than ``expected_size`` (the write is refused).
            DiskFull: when the disk is full (the temporary file is removed).
        """
        n = len(data)
        if self.expected_size is not None and self.size + n > self.expected_size:
            self.abort()
            raise SizeInvalid(
                f"blob is larger than its declared size of {self.expected_size} bytes; nothing was stored"
            )
        view = data if isinstance(data, bytes | memoryview) else memoryview(data)
        hashed = self._hasher.start(view)  # a large write hashes on a helper thread meanwhile
        try:
            self._appender.write(view)
            self.size += n
            self._written = file_state(self._lock_fd)
        except OSError as err:
            if hashed is not None:
                hashed.result()
            self.abort()
            raise_store_error(err, "writing a blob")
        if hashed is not None:
            hashed.result()

    def finish(self) -> tuple[Digest, int]:
        """Flush, fsync and check the promises. Idempotent.

        Raises:
            DigestMismatch / SizeInvalid: the temporary file is removed first.
        """
        if self._digest is not None:
            return self._digest, self.size
        try:
            refuse_if_changed(self._lock_fd, self._written, "being written")  # edited behind our back
            self._appender.close()  # writes the unaligned tail
            os.fsync(self._lock_fd)
            state = file_state(self._lock_fd)
            on_disk = state[0]
        except DigestMismatch:
            self.abort()
            raise
        except OSError as err:
            self.abort()
            raise_store_error(err, "flushing a blob")
        if on_disk != self.size:  # bytes reached the file other than through write(): never publish them
            self.abort()
            raise DigestMismatch(
                f"blob file has {on_disk} bytes but {self.size} were hashed; nothing was stored"
            )
        digest = Digest.from_hasher(self._hasher.hasher)
        if self.expected_size is not None and self.size != self.expected_size:
            self.abort()
            raise SizeInvalid(
                f"blob has {self.size} bytes but {self.expected_size} were declared; nothing was stored"
            )
        if self.expected is not None and digest != self.expected:
            self.abort()
            raise DigestMismatch(
                f"digest mismatch: expected {self.expected}, got {digest}; nothing was stored"
            )
        self._digest, self._verified = digest, state
        return digest, self.size

    def publish(self) -> Path:
        """Give the verified file its digest name (calls :meth:`finish` if needed). Returns the path.

        Raises:
            DigestMismatch: the file changed after :meth:`finish` checked it (it is removed).
        """
        if self._published is not None:
            return self._published
        digest, _ = self.finish()
        final = self._final_path_for(digest)
        try:
            refuse_if_changed(self._lock_fd, self._verified, str(digest))
        except BaseException:
            self.abort()
            raise
        try:
            publish_file(self.tmp_path, final)
        except OSError as err:
            self.abort()
            raise_store_error(err, "committing a blob")
        self._close_lock()
        self._published = final
        return final

    def abort(self) -> None:
        """Discard the temporary file. Idempotent; safe after publish."""
        try:
            self._appender.close()
        except (OSError, AttributeError):
            pass
        self.tmp_path.unlink(missing_ok=True)
        self._close_lock()

    def _close_lock(self) -> None:
        self._hasher.close()
        if self._lock_fd >= 0:
            os.close(self._lock_fd)
            self._lock_fd = -1

    def __enter__(self) -> BlobWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is not None:
            self.abort()


class StagedBlob(Protocol):
    """A verified blob waiting for its name: the library publishes it under the catalog lock.

    The promise every implementation keeps (:class:`BlobWriter`, :class:`LinkedBlob`,
    :class:`~registry.store.blobs.partial.PartialBlob`; ``tests/store/blobs/test_no_unchecked_publish.py``):
    ``publish`` gives a name only to bytes that were hashed to that name. It verifies first when
    ``finish`` was not called, and refuses (:class:`DigestMismatch`, the staged file removed) a file
    whose size or modification time changed after it was checked.
    """

    def finish(self) -> tuple[Digest, int]:
        """Digest and size (verifying on first call). Raises :class:`DigestMismatch` / ``SizeInvalid``."""
        ...

    def publish(self) -> Path:
        """Give it its digest name (verifying first if needed; idempotent; an existing blob is
        success). Raises :class:`DigestMismatch` when the bytes changed since they were checked."""
        ...

    def abort(self) -> None:
        """Discard the staged data. Idempotent."""
        ...


class LinkedBlob:
    """A file in ``tmp/`` that was hashed there: publishing links it into ``blobs/``.

    Either a reflink clone (``readonly=True``: our own inode, made read-only when published) or a
    hard link to a file the store itself produced (``readonly=False``: the mode is left alone).
    """

    def __init__(
        self,
        tmp_path: Path,
        final: Path,
        digest: Digest,
        size: int,
        lock_fd: int,
        *,
        hashed_state: tuple[int, int],
        readonly: bool = False,
    ) -> None:
        """``hashed_state``: :func:`file_state` of the file taken before it was hashed."""
        self.tmp_path = tmp_path
        self._hashed_state = hashed_state
        self._published = False
        self._lock_fd: int | None = lock_fd
        self._final = final
        self._digest = digest
        self._size = size
        self._readonly = readonly

    def finish(self) -> tuple[Digest, int]:
        """Digest and size computed when the file was staged."""
        return self._digest, self._size

    def publish(self) -> Path:
        """Link into ``blobs/``.

        Raises:
            DigestMismatch: the file changed after it was hashed (the link is removed).
        """
        if self._published:
            return self._final
        try:
            if self._lock_fd is None:
                raise DigestMismatch(f"blob {self._digest}: the staged file was aborted; nothing was stored")
            refuse_if_changed(self._lock_fd, self._hashed_state, str(self._digest))
        except BaseException:
            self.abort()
            raise
        try:
            publish_file(self.tmp_path, self._final, readonly=self._readonly)
        except OSError as err:
            self.abort()
            raise_store_error(err, "linking a blob into the store")
        self._release()
        self._published = True
        return self._final

    def abort(self) -> None:
        """Remove the temporary link."""
        self.tmp_path.unlink(missing_ok=True)
        self._release()

    def _release(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None
