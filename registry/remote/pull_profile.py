"""Where the time of one blob's download goes: receive, write, hash, fsync, commit.

:class:`BlobDownload` fills a :class:`PullProfile` as it runs (a few ``perf_counter`` calls per
512 KiB block) and logs it at DEBUG on the ``registry.remote.download`` logger when the blob is
committed; ``ollama-py pull --profile`` shows that log. The phases overlap: the hash runs on its own
thread while the event loop receives and writes, and periodic fsyncs run in worker threads, so the
figures add up to more than the wall time. The limit of a pull on one machine is the largest of
receive, write and hash; ``hash wait`` is time the event loop stood still because the hash thread
was behind, ``final hash`` what was left to hash once the last byte arrived.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["PullProfile"]

MiB = 1 << 20


@dataclass(slots=True)
class PullProfile:
    """Seconds per phase of one blob's download (see the module's docstring)."""

    size: int = 0
    total: float = 0.0
    receive: float = 0.0
    write: float = 0.0
    hash: float = 0.0
    hash_wait: float = 0.0
    sync: float = 0.0
    final_hash: float = 0.0
    commit: float = 0.0
    parts: int = 0
    streams: int = 1
    #: The body went socket -> file by splice (receive then includes the write; write is ~0).
    zero_copy: bool = False

    def summary(self) -> str:
        """One line: size, wall time, rate, then each phase in seconds."""
        rate = self.size / MiB / self.total if self.total else 0.0
        return (
            f"{self.size / MiB:.1f} MiB in {self.total:.2f} s ({rate:.0f} MiB/s), {self.parts} part(s), {self.streams} stream(s): "
            f"receive {self.receive:.2f} s{' (spliced: receive+write)' if self.zero_copy else ''}, write {self.write:.2f} s, hash {self.hash:.2f} s (own thread), "
            f"hash wait {self.hash_wait:.2f} s, fsync {self.sync:.2f} s (threads), "
            f"final hash {self.final_hash:.2f} s, commit {self.commit:.2f} s"
        )
