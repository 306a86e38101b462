"""What it costs to put a user's file into the store (issue 10 item 15). Run:
``python -m bench.ingest_bench [--size-mib 1024] [--rounds 3] [--dir DIR] [--short] [--json PATH]``.

A committed blob must never share its inode with the user's file (an edit would change the blob), so
``create`` now stores a reflink clone where the file system has them, else a copy made while
hashing. This measures, in one run on one file (page cache warm, median of the rounds):

- ``cp``: plain ``cp SRC DST`` (coreutils; it may reflink by itself where it can), and ``cp`` + ``sync``
  of the copy, which is what the store's path includes (it fsyncs before publishing);
- ``store default``: ``BlobStore.ingest_file(src)``: clone where supported, else copy-while-hashing;
- ``store link``: ``ingest_file(src, link=True)``: the old hard link (hash only), now used only for
  the store's own temporary files;
- ``sha256 only``: hashing the file once, the floor of any verified ingest.

Each figure is also given as a ratio to ``cp`` in the same run.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.report import add_common_args, emit, info, ratio_at_least  # noqa: E402
from registry.store.blobs import BlobStore, StoreLayout  # noqa: E402
from registry.store.blobs.reflink import clone_file  # noqa: E402


def make_file(path: Path, size_mib: int) -> None:
    block = os.urandom(1 << 20)
    with open(path, "wb") as f:
        for i in range(size_mib):
            f.write(block[i % 256 :] + block[: i % 256])
        f.flush()
        os.fsync(f.fileno())


def hash_once(path: Path) -> None:
    hasher = hashlib.sha256()
    buf = bytearray(1 << 20)
    view = memoryview(buf)
    with open(path, "rb", buffering=0) as f:
        while n := f.readinto(buf):
            hasher.update(view[:n])


def reflinks_supported(directory: Path) -> bool:
    src, dst = directory / "probe-src", directory / "probe-dst"
    src.write_bytes(b"probe")
    try:
        with open(src, "rb") as s, open(dst, "wb") as d:
            return clone_file(s.fileno(), d.fileno())
    finally:
        src.unlink(missing_ok=True)
        dst.unlink(missing_ok=True)


def timed(fn: Callable[[], None], cleanup: Callable[[], None], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        os.sync()  # start each round with no dirty pages left by the previous one (not timed)
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
        cleanup()
    os.sync()
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=None, help="default 1024 (--short: 256)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--dir", type=Path, default=None, help="where to work (default: a temp dir)")
    add_common_args(parser)
    args = parser.parse_args()
    args.size_mib = args.size_mib or (256 if args.short else 1024)
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        work = Path(tmp)
        source = work / "user.gguf"
        make_file(source, args.size_mib)
        hash_once(source)  # warm the page cache
        layout = StoreLayout(work / "store")
        layout.create()
        store = BlobStore(layout)
        copy_target = work / "copy.gguf"
        clone = reflinks_supported(layout.tmp_dir)

        def cp() -> None:
            subprocess.run(["cp", str(source), str(copy_target)], check=True)

        def cp_sync() -> None:
            cp()
            fd = os.open(copy_target, os.O_RDONLY)
            os.fsync(fd)
            os.close(fd)

        def drop_copy() -> None:
            copy_target.unlink(missing_ok=True)

        def drop_blob() -> None:
            shutil.rmtree(layout.blobs_dir)
            layout.blobs_dir.mkdir()

        results = {
            "cp": timed(cp, drop_copy, args.rounds),
            "cp + fsync": timed(cp_sync, drop_copy, args.rounds),
            f"store default ({'reflink clone' if clone else 'copy while hashing'})": timed(
                lambda: store.ingest_file(source), drop_blob, args.rounds
            ),
            "store link (hard link, hash only)": timed(
                lambda: store.ingest_file(source, link=True), drop_blob, args.rounds
            ),
            "sha256 only": timed(lambda: hash_once(source), lambda: None, args.rounds),
        }
    note = f"{args.size_mib} MiB, median of {args.rounds} rounds; reflinks here: {'yes' if clone else 'no'}"
    mib = args.size_mib
    store_default = next(v for k, v in results.items() if k.startswith("store default"))
    emit(
        [
            info(
                "ingest",
                "store default vs cp + fsync",
                mib / store_default,
                "MiB/s",
                mib / results["cp + fsync"],
                note,
            ),
            ratio_at_least(
                "ingest",
                "store default vs sha256 only",
                mib / store_default,
                mib / results["sha256 only"],
                "MiB/s",
                0.8,
            ),
        ],
        args,
    )


if __name__ == "__main__":
    main()
