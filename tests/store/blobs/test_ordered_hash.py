"""The in-order hasher and its thread: out-of-order blocks still give the right digest."""

from __future__ import annotations

import hashlib
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from registry.store.blobs.hashing import HashWorker


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 64), st.randoms(use_true_random=False))
def test_out_of_order_blocks(nblocks: int, rnd: random.Random) -> None:
    data = bytes(rnd.getrandbits(8) for _ in range(nblocks * 100))
    disk = bytearray(len(data))
    worker = HashWorker(lambda off, n: bytes(disk[off : off + n]), max_blocks=4)
    order = list(range(nblocks))
    rnd.shuffle(order)
    written: set[int] = set()
    for i in order:
        disk[i * 100 : (i + 1) * 100] = data[i * 100 : (i + 1) * 100]
        written.add(i)
        frontier = 0
        while frontier // 100 in written and frontier < len(data):
            frontier += 100
        if not worker.try_feed(i * 100, [data[i * 100 : i * 100 + 50], data[i * 100 + 50 : (i + 1) * 100]]):
            worker.wait_for_room()
        if rnd.random() < 0.3:
            worker.catch_up(frontier)
    assert worker.finish(len(data)).hex == hashlib.sha256(data).hexdigest()
