"""Pull of a 1 GiB blob from a local docker-registry vs ``curl -o`` of the same blob (verification
included in ours). Targets (issue 17): throughput >= 0.95 x ``curl -o`` and >= 1.0 x curl followed
by an fsync of its file.

    python -m bench.pull_throughput [--size-mib 1024] [--parts 4] [--part-mib 64] [--rounds 3]
                                    [--no-zero-copy] [--short] [--json PATH]

Ours includes what a committed blob costs: sha256 of every byte and an fsync before the blob is
published; curl does neither, so the bench also times curl followed by an fsync of its file. Each
round runs curl and our pull alternately; the best round of each is compared. ``--short``: 256 MiB.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import shutil
import tempfile
import time
from pathlib import Path

from bench.registry_fixture import curl_get, curl_put, distribution_registry, make_blob, publish_model
from bench.report import Measure, add_common_args, emit, ratio_at_least
from registry.oci.name import ModelName
from registry.remote.options import TransferOptions
from registry.remote.pull import pull_model
from registry.store.library import Library


class _ProfileLines(logging.Handler):
    """Keeps the downloader's profile lines (``registry.remote.download`` at DEBUG)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


async def _pull(store: Path, name: ModelName, options: TransferOptions) -> tuple[float, str]:
    """Seconds for the pull, and the profile line of its largest blob."""
    logger = logging.getLogger("registry.remote.download")
    handler = _ProfileLines()
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    library = Library.open(store)
    try:
        start = time.perf_counter()
        async for _ in pull_model(library, name, insecure=True, options=options):
            pass
        elapsed = time.perf_counter() - start
    finally:
        library.close()
        logger.removeHandler(handler)
    largest = max(handler.lines, key=lambda line: float(line.split(": ", 1)[1].split(" MiB")[0]), default="")
    return elapsed, largest


def _fsync_seconds(path: Path) -> float:
    start = time.perf_counter()
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    return time.perf_counter() - start


def measures(size_mib: int, rounds: int, options: TransferOptions) -> list[Measure]:
    """Time ``rounds`` alternating rounds of curl and our pull; the best of each, as measures."""
    size = size_mib << 20
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
            for i in range(rounds):
                out = tmp / "curl.out"
                curl_times.append(curl_get(host, "bench/pull", hexd, out))
                synced_times.append(curl_times[-1] + _fsync_seconds(out))
                out.unlink()
                store = tmp / f"store{i}"
                seconds, profile = asyncio.run(_pull(store, name, options))
                our_times.append(seconds)
                print(
                    f"round {i + 1}: curl {curl_times[-1]:.2f} s, ours {seconds:.2f} s; {profile}", flush=True
                )
                shutil.rmtree(store)
    mib = size / (1 << 20)
    ours = mib / min(our_times)
    runs = f"runs (s): ours {[round(t, 2) for t in our_times]}, curl {[round(t, 2) for t in curl_times]}"
    return [
        ratio_at_least(
            "pull", f"{size_mib} MiB vs curl -o", ours, mib / min(curl_times), "MiB/s", 0.95, runs
        ),
        ratio_at_least(
            "pull", f"{size_mib} MiB vs curl -o + fsync", ours, mib / min(synced_times), "MiB/s", 1.0
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mib", type=int, default=None, help="default 1024 (--short: 256)")
    parser.add_argument("--parts", type=int, default=TransferOptions().parallel_parts)
    parser.add_argument("--part-mib", type=int, default=TransferOptions().part_size >> 20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--no-zero-copy", action="store_true", help="read bodies through aiohttp (no splice) to compare"
    )
    add_common_args(parser)
    args = parser.parse_args()
    size_mib = args.size_mib or (256 if args.short else 1024)
    options = TransferOptions(
        parallel_parts=args.parts, part_size=args.part_mib << 20, zero_copy=not args.no_zero_copy
    )
    print(f"blob {size_mib} MiB, parts {args.parts} x {args.part_mib} MiB", flush=True)
    emit(measures(size_mib, args.rounds, options), args)


if __name__ == "__main__":
    main()
