"""Pull-through mirror, cold fills: an upstream registry process, a fresh mirror process per round,
N concurrent curl clients of one blob that the mirror does not have yet (one fill, streamed to all).

    python -m bench.mirror_fill [--size-mib 512] [--clients 4] [--rounds 3]

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

from tests.support.registry_process import RegistryProcess


def push_blob(url: str, path: Path, hexd: str) -> None:
    """POST an upload session, then ``PUT -T`` the file with ``?digest=``."""
    headers = subprocess.run(
        ["curl", "-sf", "-X", "POST", "-D", "-", "-o", "/dev/null", f"{url}/v2/b/r/blobs/uploads/"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    location = next(
        line.split(" ", 1)[1].strip() for line in headers.splitlines() if line.lower().startswith("location:")
    )
    sep = "&" if "?" in location else "?"
    put = [
        "curl",
        "-sf",
        "-X",
        "PUT",
        "-T",
        str(path),
        "-o",
        "/dev/null",
        f"{location}{sep}digest=sha256:{hexd}",
    ]
    subprocess.run(put, check=True)


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size-mib", type=int, default=512)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    size = args.size_mib << 20
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        data = os.urandom(size)
        (root / "blob").write_bytes(data)
        hexd = hashlib.sha256(data).hexdigest()
        del data
        upstream = RegistryProcess("--root", str(root / "up"))
        try:
            push_blob(upstream.url, root / "blob", hexd)
            rates = [
                cold_round(root / f"mirror{i}", upstream.url, hexd, size, args.clients)
                for i in range(args.rounds)
            ]
        finally:
            upstream.stop()
    print(
        f"mirror cold fill, {args.size_mib} MiB x {args.clients} clients: MiB/s {[round(r) for r in rates]}"
    )


if __name__ == "__main__":
    main()
