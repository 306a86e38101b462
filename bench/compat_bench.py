"""GGUF compatibility layer benchmark (issue 14). Run: ``python bench/compat_bench.py [--sizes-gib 1 4] [--short]``.

For each size, one Ollama-style Gemma 3 GGUF (no rms epsilon, nested rope keys, extra tokens, an
embedded vision tower; the token embedding holds most of the bytes) is written, and in the same run:

- **translate**: building the translated file (header rewrite, tensor data by ``copy_file_range``)
  against the baseline of copying the whole file (``shutil.copyfile``): ratio translate/copy;
- **extra disk**: blocks the translated file adds to the file system (``statvfs`` before/after), as
  a fraction of the blob (0 where the file system shares the blocks by reflink, ~1 where it copies);
- **first-load time to first token** through ``ollama-py serve`` (a real server process, a fresh
  store, the store's files dropped from the page cache first): the Ollama-style model (translation
  + load + one token) against a llama.cpp-native model of the same size (the translated file
  imported as an ordinary GGUF: load + one token).

``--short`` uses 64 MiB (for CI smoke runs). Figures print as one table and, with ``--json PATH``,
as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from registry.ggufcompat import plan_translation, write_translated  # noqa: E402
from tests.support.ollama_gguf import write_ollama_gemma3  # noqa: E402
from tests.support.serve_process import ServeProcess, cli, cli_env, free_port  # noqa: E402


def _ollama_gemma3(path: Path, size: int) -> Path:
    n_embd = 1024 if size <= (1 << 30) else 2048
    rows = max(512, size // (4 * n_embd))
    return write_ollama_gemma3(path, n_embd=n_embd, rows=rows)


def _free_bytes(path: Path) -> int:
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def _drop_cache(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def _first_token_seconds(work: Path, gguf: Path, name: str) -> float:
    store, port = work / f"store-{name}", free_port()
    env = cli_env(store, work / "home", OLLAMA_HOST=f"127.0.0.1:{port}")
    (work / f"Modelfile-{name}").write_text(f"FROM {gguf}\n")
    created = cli(env, "create", name, "-f", str(work / f"Modelfile-{name}"))
    assert created.returncode == 0, created.stderr
    for blob in (store / "blobs").rglob("*"):  # both runs load from a cold page cache
        if blob.is_file():
            _drop_cache(blob)
    server = ServeProcess(env)
    try:
        import httpx

        start = time.perf_counter()
        with httpx.stream(
            "POST",
            f"http://127.0.0.1:{port}/api/generate",
            json={"model": name, "prompt": "hello", "options": {"num_predict": 1}},
            timeout=600,
        ) as resp:
            for line in resp.iter_lines():
                if line:
                    break
        return time.perf_counter() - start
    finally:
        server.stop()
        shutil.rmtree(store, ignore_errors=True)


def measure(size: int, work: Path) -> dict[str, Any]:
    src = _ollama_gemma3(work / "ollama.gguf", size)
    plan = plan_translation(src)
    assert plan is not None
    copy_dest, dest = work / "copy.gguf", work / "translated.gguf"
    start = time.perf_counter()
    shutil.copyfile(src, copy_dest)
    os.sync()
    copy_s = time.perf_counter() - start
    copy_dest.unlink()
    free = _free_bytes(work)
    start = time.perf_counter()
    write_translated(src, plan, dest)
    os.sync()
    translate_s = time.perf_counter() - start
    extra = max(0, free - _free_bytes(work))
    native = work / "native.gguf"
    os.replace(dest, native)
    for path in (src, native):
        _drop_cache(path)
    ttft_native = _first_token_seconds(work, native, "native")
    for path in (src, native):
        _drop_cache(path)
    ttft_ollama = _first_token_seconds(work, src, "ollama")
    blob = src.stat().st_size
    for path in (src, native):
        path.unlink()
    return {
        "size_bytes": blob,
        "copy_s": round(copy_s, 3),
        "translate_s": round(translate_s, 3),
        "translate_over_copy": round(translate_s / copy_s, 3),
        "extra_disk_fraction": round(extra / blob, 3),
        "ttft_native_s": round(ttft_native, 3),
        "ttft_ollama_s": round(ttft_ollama, 3),
        "ttft_ratio": round(ttft_ollama / ttft_native, 3),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes-gib", type=float, nargs="+", default=[1.0, 4.0])
    parser.add_argument("--short", action="store_true", help="one 64 MiB file")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--dir", type=Path, help="work directory (default: a temporary one)")
    args = parser.parse_args()
    sizes = [64 << 20] if args.short else [int(g * (1 << 30)) for g in args.sizes_gib]
    results = []
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        for size in sizes:
            results.append(measure(size, Path(tmp)))
    print(
        f"{'size':>10} {'copy s':>8} {'translate s':>12} {'ratio':>6} {'extra disk':>10} "
        f"{'TTFT native':>12} {'TTFT ollama':>12} {'ratio':>6}"
    )
    for r in results:
        print(
            f"{r['size_bytes'] / (1 << 30):>9.2f}G {r['copy_s']:>8} {r['translate_s']:>12} "
            f"{r['translate_over_copy']:>6} {r['extra_disk_fraction']:>10} {r['ttft_native_s']:>12} "
            f"{r['ttft_ollama_s']:>12} {r['ttft_ratio']:>6}"
        )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
