"""Benchmarks for the model library (issue: model library core). Run:
``python -m bench.library_bench [list] [prune] [help] [ingest] [--short] [--json PATH]``
(``--short``: 1,000 models, 10,000 blobs, a 256 MiB file).

Each figure is printed next to its target; ratios are against a baseline measured in this run.

- list: ``ollama-py list`` (CLI process, wall time) and ``GET /api/tags`` with 10,000 models.
- prune: 100,000 blobs of which 1,000 are garbage.
- help: ``ollama-py --help`` cold, next to a bare ``python -c pass`` start.
- ingest: a 1 GiB file into the store, copied (and linked) while hashing, vs hashlib.sha256 alone.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.report import Measure, add_common_args, at_most, emit, ratio_at_least  # noqa: E402
from registry.oci import mediatypes as mt  # noqa: E402
from registry.oci.digest import sha256_of  # noqa: E402
from registry.oci.manifest import Descriptor, build_manifest  # noqa: E402
from registry.oci.name import ModelName  # noqa: E402
from registry.store.catalog import ModelsCatalog as Q  # noqa: E402
from registry.store.library import Library  # noqa: E402


def _cli(env: dict[str, str], *args: str) -> float:
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "registry.cli.main", *args], env=env, check=True, capture_output=True
    )
    return time.perf_counter() - start


def seed_models(lib: Library, count: int) -> None:
    """``count`` models, each with its own config and manifest, sharing one weights blob."""
    weights, wsize = lib.add_bytes(b"GGUF shared weights")
    with lib.db.write() as conn:
        sizes = {}
        puts = []
        for i in range(count):
            cfg = json.dumps(
                {"model_format": "gguf", "model_family": "llama", "model_type": f"{i}M"}
            ).encode()
            digest = lib.blobs.write_bytes(cfg)
            sizes[digest] = len(cfg)
            manifest = build_manifest(
                Descriptor(mt.DOCKER_CONFIG, digest, len(cfg)), [Descriptor(mt.OLLAMA_MODEL, weights, wsize)]
            )
            sizes[lib.blobs.write_bytes(manifest.raw)] = len(manifest.raw)
            puts.append((ModelName.parse(f"ns{i % 50}/model{i}:v{i % 7}"), manifest, cfg.decode()))
        Q.record_blobs(conn, sizes)
        for name, manifest, cfg_json in puts:
            Q.put_manifest(conn, manifest, cfg_json)
            Q.set_model(conn, name, manifest.digest)


def bench_list(tmp: Path, count: int = 10_000) -> list[Measure]:
    store = tmp / "list-store"
    lib = Library.open(store)
    seed_models(lib, count)
    env = {**os.environ, "OLLAMA_MODELS": str(store), "PYTHONPATH": str(ROOT)}
    _cli(env, "list")  # warm the page cache
    cli = statistics.median(_cli(env, "list") for _ in range(5))
    baseline = statistics.median(_time_python_pass() for _ in range(5))

    async def api() -> float:
        from aiohttp.test_utils import TestClient, TestServer

        from registry.config import Settings
        from registry.modelserver.api.app import build_app

        app = build_app(Settings(models_dir=store), lib)
        async with TestClient(TestServer(app)) as client:
            times = []
            for _ in range(7):
                start = time.perf_counter()
                response = await client.get("/api/tags")
                raw = await response.read()
                times.append(time.perf_counter() - start)
                assert len(json.loads(raw)["models"]) == count
            return statistics.median(times[1:])

    api_time = asyncio.run(api())
    lib.close()
    return [
        at_most(
            "library",
            f"ollama-py list, {count:,} models",
            cli,
            "s",
            0.5,
            f"bare python start {baseline:.3f} s",
        ),
        at_most("library", f"GET /api/tags, {count:,} models", api_time * 1000, "ms", 50),
    ]


def _time_python_pass() -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    return time.perf_counter() - start


def bench_prune(tmp: Path, count: int = 100_000) -> list[Measure]:
    store = tmp / "prune-store"
    lib = Library.open(store)
    old = time.time() - 7200
    sizes = {}
    for i in range(count):
        data = i.to_bytes(8, "big")
        digest = sha256_of(data)
        path = lib.blobs.path(digest)
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(data)
        sizes[digest] = len(data)
    digests = list(sizes)
    live, garbage = digests[: count - count // 100], digests[count - count // 100 :]
    with lib.db.write() as conn:
        Q.record_blobs(conn, sizes, now=old)
    cfg, cfg_size = lib.add_bytes(b"{}")
    for chunk in range((len(live) + 999) // 1000):
        layers = [Descriptor(mt.OLLAMA_MODEL, d, 8) for d in live[chunk * 1000 : (chunk + 1) * 1000]]
        lib.put_model(
            ModelName.parse(f"m{chunk}"), build_manifest(Descriptor(mt.DOCKER_CONFIG, cfg, cfg_size), layers)
        )
    for d in garbage:
        os.utime(lib.blobs.path(d), (old, old))
    start = time.perf_counter()
    report = lib.prune(grace_seconds=3600)
    elapsed = time.perf_counter() - start
    assert len(report.blobs_removed) == len(garbage), len(report.blobs_removed)
    lib.close()
    return [at_most("library", f"prune {count:,} blobs, 1% garbage", elapsed, "s", 5 * count / 100_000)]


def bench_help() -> list[Measure]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    help_times = [_cli(env, "--help") for _ in range(7)]
    base = [_time_python_pass() for _ in range(7)]
    note = f"bare python start {statistics.median(base):.3f} s"
    return [at_most("library", "ollama-py --help, cold", statistics.median(help_times), "s", 0.3, note)]


def bench_ingest(tmp: Path, size: int) -> list[Measure]:
    source = tmp / "big.gguf"
    with open(source, "wb") as f:
        block = os.urandom(1 << 20)
        for _ in range(size >> 20):
            f.write(block)
    store = tmp / "ingest-store"
    lib = Library.open(store)

    def hash_only() -> float:
        start = time.perf_counter()
        h = hashlib.sha256()
        buf = bytearray(1 << 20)
        with open(source, "rb", buffering=0) as fh:
            while n := fh.readinto(buf):
                h.update(memoryview(buf)[:n])
        return time.perf_counter() - start

    def ingest(link: bool) -> float:
        start = time.perf_counter()
        digest, _ = lib.add_file(source, link=link)
        elapsed = time.perf_counter() - start
        lib.remove_unused([digest])
        return elapsed

    hash_only()  # page cache warm-up, as for every run below
    rounds = [(hash_only(), ingest(False), ingest(True)) for _ in range(3)]
    hashed = statistics.median(r[0] for r in rounds)
    copied = statistics.median(r[1] for r in rounds)
    linked = statistics.median(r[2] for r in rounds)
    mib = size / (1 << 20)
    lib.close()
    note = f"hard link + hash {mib / linked:.0f} MiB/s"
    name = f"ingest {mib:.0f} MiB (copy+hash+fsync) vs sha256"
    return [ratio_at_least("library", name, mib / copied, mib / hashed, "MiB/s", 0.8, note)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("which", nargs="*", default=["list", "prune", "help", "ingest"])
    parser.add_argument("--ingest-mib", type=int, default=None, help="default 1024 (--short: 256)")
    add_common_args(parser)
    args = parser.parse_args()
    scale = 10 if args.short else 1  # --short: a tenth of the models and blobs (targets scaled)
    measures: list[Measure] = []
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as tmp_name:
        tmp = Path(tmp_name)
        if "list" in args.which:
            measures += bench_list(tmp, 10_000 // scale)
        if "prune" in args.which:
            measures += bench_prune(tmp, 100_000 // scale)
        if "help" in args.which:
            measures += bench_help()
        if "ingest" in args.which:
            measures += bench_ingest(tmp, (args.ingest_mib or (256 if args.short else 1024)) << 20)
    emit(measures, args)


if __name__ == "__main__":
    main()
