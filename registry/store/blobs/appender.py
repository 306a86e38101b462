"""Appending upload data to a spool file, bypassing the page cache where the file system allows.

Writes through the page cache on a VM are throttled by dirty-page writeback: measured here, 1 GiB
took 1.8-3.2 s buffered (plus 0.4 s fsync) but 0.6 s with ``O_DIRECT`` including the sync. So
:class:`DirectAppender` collects data into a page-aligned 4 MiB buffer and writes full blocks with
``O_DIRECT`` (``pwrite`` at aligned offsets); the unaligned tail goes through a normal descriptor on
``close``. It is used when the append starts at an aligned offset and the file system supports
``O_DIRECT`` (tmpfs does not); otherwise :class:`BufferedAppender` writes plainly.

Neither is safe for concurrent use; both run in worker threads. Data buffered in a
``DirectAppender`` is written only by ``close()`` (an aborted append discards it, which is fine: the
session's accepted length is what the catalog recorded).
"""

from __future__ import annotations

import contextlib
import errno
import mmap
import os
from pathlib import Path
from typing import Protocol

from registry.store.blobs.oserrors import raise_store_error

__all__ = ["Appender", "open_appender"]

_BLOCK = 4 << 20
_ALIGN = 4096


class Appender(Protocol):
    """Appends bytes to one file from a starting offset."""

    def write(self, data: bytes | bytearray | memoryview) -> None:
        """Append ``data``."""
        ...

    def close(self) -> None:
        """Write anything buffered and release the file. Idempotent."""
        ...


class BufferedAppender:
    """Plain ``pwrite`` appends."""

    def __init__(self, fd: int, offset: int) -> None:
        self._fd = fd
        self._pos = offset

    def write(self, data: bytes | bytearray | memoryview) -> None:
        """Append ``data`` (looping over short writes)."""
        view = memoryview(data)
        while view:
            n = os.pwrite(self._fd, view, self._pos)
            self._pos += n
            view = view[n:]

    def close(self) -> None:
        """Close the descriptor."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


class DirectAppender:
    """Aligned 4 MiB ``O_DIRECT`` writes; the tail is written through the page cache on close."""

    def __init__(self, fd: int, direct_fd: int, offset: int) -> None:
        self._fd = fd
        self._direct_fd = direct_fd
        self._pos = offset
        self._buf = mmap.mmap(-1, _BLOCK)
        self._fill = 0

    def write(self, data: bytes | bytearray | memoryview) -> None:
        """Copy into the aligned buffer, writing each full block directly."""
        view = memoryview(data)
        while view:
            n = min(len(view), _BLOCK - self._fill)
            self._buf[self._fill : self._fill + n] = view[:n]
            self._fill += n
            view = view[n:]
            if self._fill == _BLOCK:
                written = os.pwrite(self._direct_fd, self._buf, self._pos)
                if written != _BLOCK:  # a regular file is only short-written when space runs out
                    raise OSError(errno.ENOSPC, f"short direct write ({written} of {_BLOCK} bytes)")
                self._pos += _BLOCK
                self._fill = 0

    def close(self) -> None:
        """Write the tail through the normal descriptor and close both."""
        if self._direct_fd < 0:
            return
        try:
            if self._fill:
                BufferedAppender(self._fd, self._pos).write(memoryview(self._buf)[: self._fill])
                self._pos += self._fill
                self._fill = 0
        finally:
            os.close(self._direct_fd)
            os.close(self._fd)
            self._direct_fd = self._fd = -1
            with contextlib.suppress(BufferError):  # a view may outlive a failed write; GC frees it
                self._buf.close()


def open_appender(path: Path, offset: int) -> Appender:
    """Truncate ``path`` to ``offset`` and return an appender from there (direct when possible).

    Raises:
        FileNotFoundError: no such file. DiskFull / StoreError: other file-system failures.
    """
    try:
        fd = os.open(path, os.O_WRONLY)
    except FileNotFoundError:
        raise
    except OSError as err:
        raise_store_error(err, "opening an upload")
        raise  # pragma: no cover
    try:
        os.ftruncate(fd, offset)
    except OSError as err:
        os.close(fd)
        raise_store_error(err, "opening an upload")
    direct = getattr(os, "O_DIRECT", 0)
    if direct and offset % _ALIGN == 0:
        try:
            return DirectAppender(fd, os.open(path, os.O_WRONLY | direct), offset)
        except OSError:
            pass  # file system without O_DIRECT (tmpfs): write through the page cache
    return BufferedAppender(fd, offset)
