"""Benchmark for create (issue: Modelfile and create). Run:
``python -m bench.create_bench [--size-mib N] [--short] [--json PATH]`` (``--short``: 256 MiB).

Target: ``create`` from a 1 GiB GGUF already on the store's file system takes at most 1.3 x the time
of hashing that file once (sha256, streaming), both measured in this run on a warm page cache.

The create is the in-process CLI path (Modelfile -> local files -> into the store as a reflink clone
where the file system has them, else a copy made while hashing (issue 10 item 15: never a hard link;
``bench/ingest_bench.py`` compares the two) -> GGUF header -> config, manifest, catalog), each round
in a fresh store so nothing is reused. The 1.3 x target dates from hard links; a copy adds the write.
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.report import Measure, add_common_args, emit, ratio_at_most  # noqa: E402
from registry.modelfile.parser import parse_modelfile  # noqa: E402
from registry.modelserver.creator import CreateRequest, create_model  # noqa: E402
from registry.modelserver.creator.local_files import find_local_files  # noqa: E402
from registry.oci.name import ModelName  # noqa: E402
from registry.store.library import Library  # noqa: E402
from tests.support.tiny_gguf import write_tiny_gguf  # noqa: E402


def make_gguf(path: Path, size_mib: int) -> Path:
    """A real llama GGUF of about ``size_mib`` MiB (two layers with a wide feed-forward)."""
    n_embd = 1024
    n_ff = max(256, size_mib * (1 << 20) // (2 * 3 * n_embd * 4) // 256 * 256)
    return write_tiny_gguf(
        path, embedding_length=n_embd, feed_forward_length=n_ff, block_count=2, head_count=8
    )


def hash_once(path: Path) -> float:
    start = time.perf_counter()
    hasher = hashlib.sha256()
    buf = bytearray(1 << 20)
    view = memoryview(buf)
    with open(path, "rb", buffering=0) as f:
        while n := f.readinto(buf):
            hasher.update(view[:n])
    return time.perf_counter() - start


def create_once(work: Path, modelfile: Path, round_no: int) -> float:
    library = Library.open(work / f"store-{round_no}")
    try:
        start = time.perf_counter()
        parsed = parse_modelfile(modelfile.read_bytes())
        local = find_local_files(parsed, modelfile.parent)
        files = {key: library.add_file(path)[0] for key, path in local.files.items()}
        request = CreateRequest.from_modelfile(parsed, files=files)
        statuses = [event.status for event in create_model(library, ModelName.parse("big"), request)]
        elapsed = time.perf_counter() - start
        assert statuses[-1] == "success", statuses
        return elapsed
    finally:
        library.close()


def measures(size_mib: int, rounds: int) -> list[Measure]:
    """Median create and median hash of the same file, as a measure."""
    with tempfile.TemporaryDirectory(prefix="create-bench-") as tmp:
        work = Path(tmp)
        gguf = make_gguf(work / "big.gguf", size_mib)
        modelfile = work / "Modelfile"
        modelfile.write_text("FROM ./big.gguf\nSYSTEM benchmark\nPARAMETER temperature 0.5\n")
        size = gguf.stat().st_size
        hash_once(gguf)  # warm the page cache
        hashes, creates = [], []
        for round_no in range(rounds):
            hashes.append(hash_once(gguf))
            creates.append(create_once(work, modelfile, round_no))
        h, c = statistics.median(hashes), statistics.median(creates)
    note = f"{size / (1 << 30):.2f} GiB GGUF; median of {rounds} rounds"
    return [ratio_at_most("create", f"{size_mib} MiB GGUF vs sha256 of it", c, h, "s", 1.3, note)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size-mib", type=int, default=None, help="default 1024 (--short: 256)")
    parser.add_argument("--rounds", type=int, default=3)
    add_common_args(parser)
    args = parser.parse_args()
    emit(measures(args.size_mib or (256 if args.short else 1024), args.rounds), args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
