"""Peak RSS of ``ollama-py pull`` of a 4 GiB blob (target < 100 MB, issue 17).

The blob is a zero pattern held by a loopback server (``bytes(n)`` is allocated lazily, so the bench
itself stays small); the pull runs as a separate process whose peak RSS is read from
``getrusage(RUSAGE_CHILDREN)``.

    python -m bench.pull_memory [--size-mib 4096] [--short] [--json PATH]

``--short``: a 1 GiB blob.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

from bench.report import Measure, add_common_args, at_most, emit
from bench.served_upstream import serve_blob

ROOT = Path(__file__).resolve().parents[1]


async def measure(size: int) -> Measure:
    """Pull ``size`` bytes in a child process; its peak RSS as a measure."""
    data = bytes(size)
    upstream, _ = await serve_blob(data)
    try:
        with tempfile.TemporaryDirectory(dir=Path.home()) as tmp:
            env = {**os.environ, "OLLAMA_MODELS": str(Path(tmp) / "store")}
            start = time.perf_counter()
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "registry.cli.main",
                "pull",
                "--insecure",
                f"{upstream.host}/bench/big:v1",
                cwd=ROOT,
                env=env,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL,
            )
            code = await proc.wait()
            elapsed = time.perf_counter() - start
    finally:
        await upstream.stop()
    assert code == 0, f"pull failed with exit {code}"
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    note = f"pulled in {elapsed:.1f} s"
    return at_most("pull", f"peak RSS of a {size >> 20} MiB pull", peak_mb, "MB", 100, note)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mib", type=int, default=None, help="default 4096 (--short: 1024)")
    add_common_args(parser)
    args = parser.parse_args()
    size_mib = args.size_mib or (1024 if args.short else 4096)
    emit([asyncio.run(measure(size_mib << 20))], args)


if __name__ == "__main__":
    main()
