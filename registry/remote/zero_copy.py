"""Zero-copy receive of a plain-HTTP response body into a file: ``splice(2)`` socket -> pipe -> file.

The fast path of a blob download. Reading a body through aiohttp copies every byte twice in user
space (socket -> Python bytes -> page cache) and runs the parser on the event loop; ``splice`` moves
the socket's pages into a pipe and from the pipe into the file's page cache inside the kernel, one
copy in all, on a worker thread that holds no GIL while it waits. The hash thread then reads the
bytes back from the page cache into a buffer hot in its CPU's cache (``OrderedHasher.catch_up_from``),
so a pull costs two copies and one sha256 per byte, none of them on the event loop.

Contract:

- :func:`take_over` hands a response's connection to a :class:`BodySplicer` when the body can be
  spliced: Linux (``os.splice``), a plain TCP connection (no TLS: its bytes are ciphertext), an
  identity body (no ``Transfer-Encoding``, no ``Content-Encoding``) of known length. It returns
  ``None`` (nothing changed, read the body as usual) otherwise. After a take-over the event loop no
  longer reads that socket, the bytes aiohttp had already buffered are returned with the splicer,
  and the connection can only be closed (``resp.close()``), never reused.
- :meth:`BodySplicer.move` (run it in a worker thread, one call at a time) moves up to ``limit``
  bytes from the socket into the file at ``offset``; returns how many (0: the peer closed). No byte
  for ``stall_timeout`` seconds raises :class:`TimeoutError`; the file's errors (ENOSPC...) raise
  ``OSError``. Bytes counted in the return value are in the file (page cache); bytes that were in
  the pipe when an error struck are not counted and are fetched again.
"""

from __future__ import annotations

import errno
import fcntl
import os
import select
import time
from dataclasses import dataclass

import aiohttp

__all__ = ["BodySplicer", "SinkError", "take_over"]

#: Pipe capacity asked for (``F_SETPIPE_SZ``; 1 MiB is the unprivileged maximum by default).
_PIPE_SIZE = 1 << 20
_F_SETPIPE_SZ = 1031
#: Longest wait in one ``poll``: how soon :meth:`BodySplicer.abort` takes effect.
_POLL_SLICE = 0.25
#: The file cannot take a splice (some devices and file systems): move the pipe's bytes by read+pwrite.
_NO_SPLICE = (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.EXDEV)


class SinkError(Exception):
    """Writing into the file failed; ``__cause__`` is the ``OSError`` (ENOSPC, EIO...)."""


@dataclass(slots=True)
class BodySplicer:
    """Moves a response body from a socket into a file. Close it (or use it as a context manager)."""

    socket_fd: int
    stall_timeout: float
    #: What aiohttp had read past the headers before the take-over (the body's first bytes).
    buffered: bytes = b""
    _pipe: tuple[int, int] | None = None
    _aborted: bool = False
    _file_takes_splice: bool = True

    def __post_init__(self) -> None:
        read_end, write_end = os.pipe2(os.O_CLOEXEC)
        try:
            fcntl.fcntl(write_end, _F_SETPIPE_SZ, _PIPE_SIZE)
        except OSError:  # a lower pipe-max-size: the default 64 KiB pipe still works
            pass
        self._pipe = (read_end, write_end)

    def move(self, file_fd: int, offset: int, limit: int) -> int:
        """Splice up to ``limit`` bytes from the socket into ``file_fd`` at ``offset`` (see the module's
        contract). Blocks until at least one byte came, the peer closed, :meth:`abort` was called
        (returns 0 at once), or the stall timeout (raises ``TimeoutError``). Raises
        :class:`SinkError` when the file refuses the bytes, ``OSError`` from the socket."""
        assert self._pipe is not None, "BodySplicer used after close()"
        write_end = self._pipe[1]
        moved = 0
        poller = select.poll()
        poller.register(self.socket_fd, select.POLLIN | select.POLLERR | select.POLLHUP)
        waited_since: float | None = None
        while moved < limit and not self._aborted:
            try:
                n = os.splice(self.socket_fd, write_end, min(_PIPE_SIZE, limit - moved))
            except BlockingIOError:
                if moved:  # return what we have: the caller accounts for it, then asks again
                    return moved
                now = time.monotonic()
                waited_since = now if waited_since is None else waited_since
                if now - waited_since >= self.stall_timeout:
                    raise TimeoutError("no data received before the stall timeout") from None
                poller.poll(min(_POLL_SLICE, self.stall_timeout) * 1000)
                continue
            if n == 0:
                return moved
            waited_since = None
            self._drain_pipe(file_fd, offset + moved, n)
            moved += n
        return moved

    def abort(self) -> None:
        """Make a running or later :meth:`move` return soon (within a quarter second). Thread-safe."""
        self._aborted = True

    def _drain_pipe(self, file_fd: int, offset: int, n: int) -> None:
        """Move exactly ``n`` bytes from the pipe into the file at ``offset``."""
        assert self._pipe is not None
        read_end = self._pipe[0]
        try:
            while n and self._file_takes_splice:
                try:
                    m = os.splice(read_end, file_fd, n, offset_dst=offset)
                except OSError as err:
                    if err.errno not in _NO_SPLICE:
                        raise
                    self._file_takes_splice = False
                    break
                offset += m
                n -= m
            while n:
                data = os.read(read_end, n)
                written = 0
                while written < len(data):
                    written += os.pwrite(file_fd, data[written:], offset + written)
                offset += len(data)
                n -= len(data)
        except OSError as err:
            raise SinkError(str(err)) from err

    def close(self) -> None:
        """Close the pipe (not the socket: the response owns it). Idempotent."""
        if self._pipe is not None:
            for fd in self._pipe:
                os.close(fd)
            self._pipe = None

    def __enter__(self) -> BodySplicer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def take_over(resp: aiohttp.ClientResponse, stall_timeout: float) -> BodySplicer | None:
    """Take the response's body away from aiohttp for splicing, or return None (see the module)."""
    if not hasattr(os, "splice") or resp.content_length is None:
        return None
    headers = resp.headers
    if "Transfer-Encoding" in headers or headers.get("Content-Encoding", "identity") != "identity":
        return None
    connection = resp.connection
    if connection is None or connection.transport is None or connection.protocol is None:
        return None
    transport = connection.transport
    if (
        transport.get_extra_info("sslcontext") is not None
        or transport.get_extra_info("ssl_object") is not None
    ):
        return None
    sock = transport.get_extra_info("socket")
    if (
        sock is None
        or transport.is_closing()
        or resp.content.exception() is not None
        or resp.content.is_eof()
    ):
        return None
    # Synchronously (no event-loop turn in between, so no byte is read meanwhile): take what aiohttp
    # buffered, then stop the loop reading this socket. Draining first: aiohttp resumes reading when
    # its buffer drains, and that must not undo the pause.
    buffered = resp.content.read_nowait(-1)
    connection.protocol.pause_reading()
    transport.pause_reading()
    return BodySplicer(socket_fd=sock.fileno(), stall_timeout=stall_timeout, buffered=buffered)
