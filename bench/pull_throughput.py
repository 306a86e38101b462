"""Pull of a 1 GiB blob from a local docker-registry vs ``curl -o`` of the same blob (verification
included in ours). Prints the throughput ratio (target >= 0.8).

    python -m bench.pull_throughput [--size-mib 1024] [--parts 4] [--part-mib 64] [--rounds 2]

Ours includes what a committed blob costs: sha256 of every byte and an fsync before the blob is
published; curl does neither, so the bench also prints curl followed by an fsync of its file.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import tempfile
import time
from pathlib import Path

from bench.registry_fixture import curl_get, curl_put, distribution_registry, make_blob, publish_model
from registry.oci.name import ModelName
from registry.remote.options import TransferOptions
from registry.remote.pull import pull_model
from registry.store.library import Library


async def _pull(store: Path, name: ModelName, options: TransferOptions) -> float:
    library = Library.open(store)
    start = time.perf_counter()
    async for _ in pull_model(library, name, insecure=True, options=options):
        pass
    elapsed = time.perf_counter() - start
    library.close()
    return elapsed


def _fsync_seconds(path: Path) -> float:
    start = time.perf_counter()
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--parts", type=int, default=TransferOptions().parallel_parts)
    parser.add_argument("--part-mib", type=int, default=TransferOptions().part_size >> 20)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    size = args.size_mib << 20
    options = TransferOptions(parallel_parts=args.parts, part_size=args.part_mib << 20)
    with tempfile.TemporaryDirectory(dir=Path.home()) as tmp_text:
        tmp = Path(tmp_text)
        blob = tmp / "blob"
        hexd = make_blob(blob, size)
        with distribution_registry(tmp) as host:
            curl_put(host, "bench/pull", blob, hexd)
            publish_model(host, "bench/pull", "v1", hexd, size, tmp)
            blob.unlink()
            name = ModelName.parse(f"{host}/bench/pull:v1")
            curl_times, synced_times, our_times = [], [], []
            for i in range(args.rounds):
                out = tmp / "curl.out"
                curl_times.append(curl_get(host, "bench/pull", hexd, out))
                synced_times.append(curl_times[-1] + _fsync_seconds(out))
                out.unlink()
                store = tmp / f"store{i}"
                our_times.append(asyncio.run(_pull(store, name, options)))
                shutil.rmtree(store)
    curl_best, ours_best, synced_best = min(curl_times), min(our_times), min(synced_times)
    mib = size / (1 << 20)
    print(f"blob {mib:.0f} MiB, parts {args.parts} x {args.part_mib} MiB")
    print(
        f"curl -o : {curl_best:.2f} s  ({mib / curl_best:.0f} MiB/s)  runs {[round(t, 2) for t in curl_times]}"
    )
    print(
        f"ollama-py pull (verified): {ours_best:.2f} s  ({mib / ours_best:.0f} MiB/s)  runs {[round(t, 2) for t in our_times]}"
    )
    print(f"curl -o then fsync (same durability as a committed blob): {synced_best:.2f} s")
    print(f"ratio (ours / curl throughput): {curl_best / ours_best:.2f}  (target >= 0.8)")
    print(f"ratio (ours / curl+fsync throughput): {synced_best / ours_best:.2f}")


if __name__ == "__main__":
    main()
