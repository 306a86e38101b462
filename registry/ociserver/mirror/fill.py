"""One in-flight upstream download of a blob (a *fill*) and the readers that follow it.

The fill is the :class:`BlobSink` of :func:`registry.remote.fetch.fetch_blob`: bytes land in a spool
file (flushed per block) and every waiting reader is woken; the remote client hashes and verifies
them. Readers stream the spool file as it grows; a failed fill cuts them short (never a wrong blob).
"""

from __future__ import annotations

import asyncio
import functools
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from registry.remote.fetch import BlobSink

__all__ = ["Fill", "FillReader"]


@dataclass(eq=False)
class Fill(BlobSink):
    """The spool file at ``path`` and what is known of it: ``size`` (-1: not announced; None: no
    answer yet), ``received`` bytes, ``done`` (committed) or ``error``."""

    path: Path
    size: int | None = None
    received: int = 0
    done: bool = False
    error: BaseException | None = None
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    task: asyncio.Task[None] | None = None
    _file: BinaryIO | None = None

    async def start(self, length: int | None) -> None:
        """Create the spool file, then tell the readers the announced length."""
        self._file = open(self.path, "wb")  # noqa: SIM115 - closed by close_file
        async with self.changed:
            self.size = length if length is not None else -1
            self.changed.notify_all()

    async def write(self, offset: int, chunks: list[bytes]) -> None:
        """Append and flush the block (in a thread), then wake the readers."""
        await asyncio.to_thread(self._append, chunks)
        async with self.changed:
            self.received += sum(len(c) for c in chunks)
            self.changed.notify_all()

    def _append(self, chunks: list[bytes]) -> None:
        assert self._file is not None
        self._file.writelines(chunks)
        self._file.flush()

    def read_at(self, offset: int, size: int) -> bytes:
        """Read back flushed bytes (the hash thread's catch-up)."""
        assert self._file is not None
        return os.pread(self._file.fileno(), size, offset)

    def close_file(self) -> None:
        """Close the spool file (idempotent); the path stays until committed or discarded."""
        if self._file is not None:
            self._file.close()
            self._file = None

    async def finish(self, error: BaseException | None) -> None:
        """Mark the fill committed (``error`` None) or failed, and wake everyone."""
        async with self.changed:
            if error is None:
                self.done = True
            else:
                self.error = error
            self.changed.notify_all()

    async def wait_done(self) -> None:
        """Wait until committed; raise the fill's error if it failed."""
        async with self.changed:
            await self.changed.wait_for(lambda: self.done or self.error is not None)
        if self.error is not None:
            raise self.error

    async def reader(self) -> FillReader | None:
        """Wait for the upstream's answer; a reader of the spool file, or None when the fill was
        committed meanwhile (serve the stored blob). Raises the fill's error if it failed first."""
        async with self.changed:
            await self.changed.wait_for(lambda: self.size is not None or self.error is not None or self.done)
        if self.error is not None:
            raise self.error
        try:
            f = open(self.path, "rb")  # noqa: SIM115 - closed by FillReader.chunks
        except FileNotFoundError:
            return None
        return FillReader(self, f)


@dataclass(eq=False)
class FillReader:
    """Follows one fill's spool file from the start."""

    fill: Fill
    file: BinaryIO

    @property
    def size(self) -> int | None:
        """The announced length, or None when the upstream sent none (chunked)."""
        size = self.fill.size
        return size if size is not None and size >= 0 else None

    async def chunks(self) -> AsyncIterator[bytes]:
        """The blob's bytes as they land; ends when the fill is committed. Raises
        ConnectionResetError when the fill fails (the response must be cut short). Closes the file."""
        fill, sent = self.fill, 0
        with self.file:
            while True:
                async with fill.changed:
                    await fill.changed.wait_for(functools.partial(_has_news, fill, sent))
                if fill.error is not None:
                    raise ConnectionResetError("upstream fill failed; the response is cut short")
                data = await asyncio.to_thread(self.file.read, fill.received - sent)
                if data:
                    yield data
                    sent += len(data)
                elif fill.done:
                    return


def _has_news(fill: Fill, sent: int) -> bool:
    return fill.received > sent or fill.done or fill.error is not None
