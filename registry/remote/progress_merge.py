"""Run one job per blob concurrently and merge their byte counts into one stream of Progress events.

Events per blob: ``"<verb> <12 hex>"`` with ``digest``, ``total`` and ``completed``, at most every
``interval`` seconds per blob plus a final one at ``completed == total`` (no event with
``completed == 0`` unless the blob is empty). The first failing job
cancels the others and its error is raised from the iterator. Closing the iterator early (a client
that went away) cancels the jobs; their partial state is kept for the next try.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence

from registry.oci.digest import Digest
from registry.oci.manifest import Descriptor
from registry.store.library.progress import Progress

__all__ = ["Job", "run_with_progress"]

#: ``job(descriptor, report)``: does the work, calling ``report(bytes_done)`` as it goes.
Job = Callable[[Descriptor, Callable[[int], None]], Awaitable[object]]


async def run_with_progress(
    verb: str, descriptors: Sequence[Descriptor], job: Job, *, parallel: int, interval: float = 0.1
) -> AsyncIterator[Progress]:
    """Run ``job`` for every descriptor (``parallel`` at a time) and yield merged progress."""
    done_bytes: dict[Digest, int] = {d.digest: 0 for d in descriptors}
    changed = asyncio.Event()
    finished_ok: set[Digest] = set()
    semaphore = asyncio.Semaphore(max(1, parallel))

    def reporter(desc: Descriptor) -> Callable[[int], None]:
        def report(n: int) -> None:
            done_bytes[desc.digest] = min(n, desc.size)
            changed.set()

        return report

    async def one(desc: Descriptor) -> None:
        async with semaphore:
            await job(desc, reporter(desc))
        done_bytes[desc.digest] = desc.size
        finished_ok.add(desc.digest)
        changed.set()

    tasks = [asyncio.create_task(one(d)) for d in descriptors]
    sent: dict[Digest, int] = {}
    try:
        while True:
            finished = all(t.done() for t in tasks)
            for t in tasks:
                if t.done() and not t.cancelled() and t.exception() is not None:
                    raise t.exception()  # type: ignore[misc]
            for desc in descriptors:
                now = done_bytes[desc.digest]
                if sent.get(desc.digest) != now and (now or desc.digest in finished_ok):
                    sent[desc.digest] = now
                    yield Progress(f"{verb} {desc.digest.short}", str(desc.digest), desc.size, now)
            if finished:
                return
            changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), timeout=1.0)
            # Throttle to one round per ``interval``, but wake at once when a job ends.
            pending = [t for t in tasks if not t.done()] or tasks
            await asyncio.wait(pending, timeout=interval, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
