"""Pull-through mirror, cold fills: an upstream registry process, a fresh mirror process per round,
N concurrent curl clients of one blob that the mirror does not have yet (one fill, streamed to all).

    python -m bench.mirror_fill [--size-mib 512] [--clients 4] [--rounds 3] [--short] [--json PATH]

The figure is the best round against the aggregate rate of the same clients reading the blob
straight from the upstream (target: at least 0.5 of it). ``--short``: 128 MiB, 2 rounds.

Prints the aggregate MiB/s of each round (bytes delivered to all clients / wall time). Every process
started is stopped by PID; the temporary root is deleted.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import tempfile
import time
from pathlib import Path

from bench.registry_fixture import curl_put
from bench.report import add_common_args, emit, ratio_at_least
from tests.support.registry_process import RegistryProcess


def cold_round(root: Path, upstream: str, hexd: str, size: int, clients: int) -> float:
    """One fresh mirror; all clients GET the blob at once. Aggregate MiB/s."""
    mirror = RegistryProcess("--root", str(root), "--upstream", upstream)
    try:
        url = f"{mirror.url}/v2/b/r/blobs/sha256:{hexd}"
        start = time.perf_counter()
        procs = [subprocess.Popen(["curl", "-sf", "-o", "/dev/null", url]) for _ in range(clients)]
        if not all(p.wait() == 0 for p in procs):
            raise RuntimeError("a client failed")
        return size * clients / (time.perf_counter() - start) / (1 << 20)
    finally:
        mirror.stop()


def direct_round(upstream: str, hexd: str, size: int, clients: int) -> float:
    """The same clients straight from the upstream (the ceiling of a fill). Aggregate MiB/s."""
    url = f"{upstream}/v2/b/r/blobs/sha256:{hexd}"
    start = time.perf_counter()
    procs = [subprocess.Popen(["curl", "-sf", "-o", "/dev/null", url]) for _ in range(clients)]
    if not all(p.wait() == 0 for p in procs):
        raise RuntimeError("a client failed")
    return size * clients / (time.perf_counter() - start) / (1 << 20)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size-mib", type=int, default=None, help="default 512 (--short: 128)")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=None, help="default 3 (--short: 2)")
    add_common_args(parser)
    args = parser.parse_args()
    size_mib = args.size_mib or (128 if args.short else 512)
    rounds = args.rounds or (2 if args.short else 3)
    size = size_mib << 20
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        data = os.urandom(size)
        (root / "blob").write_bytes(data)
        hexd = hashlib.sha256(data).hexdigest()
        del data
        upstream = RegistryProcess("--root", str(root / "up"))
        try:
            curl_put(upstream.url.removeprefix("http://"), "b/r", root / "blob", hexd)
            rates = [
                cold_round(root / f"mirror{i}", upstream.url, hexd, size, args.clients) for i in range(rounds)
            ]
            direct = max(direct_round(upstream.url, hexd, size, args.clients) for _ in range(rounds))
        finally:
            upstream.stop()
    name = f"cold fill {size_mib} MiB x {args.clients} clients vs upstream direct"
    note = f"rounds MiB/s {[round(r) for r in rates]}"
    emit([ratio_at_least("mirror", name, max(rates), direct, "MiB/s", 0.5, note)], args)


if __name__ == "__main__":
    main()
