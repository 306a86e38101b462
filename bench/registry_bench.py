"""Registry server benchmarks against docker-registry (distribution 2.8.2, Debian) started here on loopback.

    python -m bench.registry_bench [--size-mib 1024] [--clients 8] [--wrk-seconds 10] [--short] [--json PATH]

Runs the same three workloads against both servers in one run and prints the ratios:

1. push one blob with curl (POST, then ``PUT -T file ?digest=``): MiB/s, target >= 2.0x;
2. pull the blob with N concurrent curl clients to /dev/null: aggregate MiB/s, target >= 1.0x;
3. manifest GETs by tag with wrk, 64 connections: requests/s, target >= 0.7x.

Every process started is stopped by PID at the end; temporary roots are deleted.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.report import add_common_args, emit, ratio_at_least  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_up(url: str) -> None:
    for _ in range(200):
        if subprocess.run(["curl", "-sf", "-o", "/dev/null", url]).returncode == 0:
            return
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


def start_docker_registry(root: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    config = root / "config.yml"
    config.write_text(
        f"version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {root / 'data'}\n"
        f"  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n"
    )
    proc = subprocess.Popen(
        ["docker-registry", "serve", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    wait_up(f"{url}/v2/")
    return proc, url


def start_ours(root: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "registry.cli.main",
            "registry",
            "serve",
            "--listen",
            f"127.0.0.1:{port}",
            "--root",
            str(root),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    wait_up(f"{url}/v2/")
    return proc, url


def curl(*args: str) -> str:
    return subprocess.run(["curl", "-s", *args], check=True, capture_output=True, text=True).stdout


def push(url: str, repo: str, path: Path, digest: str) -> float:
    started = time.monotonic()
    headers = curl("-D", "-", "-o", "/dev/null", "-X", "POST", f"{url}/v2/{repo}/blobs/uploads/")
    location = re.search(r"(?im)^location:\s*(\S+)", headers).group(1)  # type: ignore[union-attr]
    if location.startswith("/"):
        location = url + location
    sep = "&" if "?" in location else "?"
    code = curl(
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "-X",
        "PUT",
        "-H",
        "Content-Type: application/octet-stream",
        "-T",
        str(path),
        f"{location}{sep}digest={digest}",
    )
    assert code == "201", code
    return time.monotonic() - started


def pull(url: str, repo: str, digest: str, clients: int) -> float:
    started = time.monotonic()
    procs = [
        subprocess.Popen(["curl", "-sf", "-o", "/dev/null", f"{url}/v2/{repo}/blobs/{digest}"])
        for _ in range(clients)
    ]
    assert all(p.wait() == 0 for p in procs)
    return time.monotonic() - started


def put_manifest(url: str, repo: str) -> None:
    config = b"{}"
    for blob in (config,):
        d = "sha256:" + hashlib.sha256(blob).hexdigest()
        tmp = Path(tempfile.mktemp())
        tmp.write_bytes(blob)
        push(url, repo, tmp, d)
        tmp.unlink()
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                "digest": "sha256:" + hashlib.sha256(config).hexdigest(),
                "size": len(config),
            },
            "layers": [],
        }
    )
    code = curl(
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "-X",
        "PUT",
        "-H",
        "Content-Type: application/vnd.docker.distribution.manifest.v2+json",
        "--data-binary",
        manifest,
        f"{url}/v2/{repo}/manifests/latest",
    )
    assert code == "201", code


def wrk(url: str, repo: str, seconds: int) -> float:
    out = subprocess.run(
        [
            "wrk",
            "-t",
            "2",
            "-c",
            "64",
            "-d",
            f"{seconds}s",
            "-H",
            "Accept: application/vnd.docker.distribution.manifest.v2+json",
            f"{url}/v2/{repo}/manifests/latest",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return float(re.search(r"Requests/sec:\s*([\d.]+)", out).group(1))  # type: ignore[union-attr]


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size-mib", type=int, default=None, help="default 1024 (--short: 256)")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--wrk-seconds", type=int, default=None, help="default 10 (--short: 3)")
    add_common_args(parser)
    args = parser.parse_args()
    args.size_mib = args.size_mib or (256 if args.short else 1024)
    args.wrk_seconds = args.wrk_seconds or (3 if args.short else 10)
    for tool in ("docker-registry", "curl", "wrk"):
        if shutil.which(tool) is None:
            print(f"{tool} is not installed", file=sys.stderr)
            return 2
    work = Path(tempfile.mkdtemp(prefix="regbench-", dir=REPO / "bench"))
    blob = work / "blob"
    with open(blob, "wb") as f:
        for _ in range(args.size_mib):
            f.write(os.urandom(1 << 20))
    with open(blob, "rb") as f:
        digest = "sha256:" + hashlib.file_digest(f, "sha256").hexdigest()
    results: dict[str, dict[str, float]] = {}
    try:
        for name, start in (("docker-registry", start_docker_registry), ("ollama-py", start_ours)):
            root = work / name
            root.mkdir()
            proc, url = start(root)
            try:
                os.sync()  # start each push with no dirty pages left by the previous step
                push_s = push(url, "bench/blob", blob, digest)
                os.sync()
                pull_s = pull(url, "bench/blob", digest, args.clients)
                put_manifest(url, "bench/manifest")
                rps = wrk(url, "bench/manifest", args.wrk_seconds)
            finally:
                stop(proc)
            results[name] = {
                "push_mib_s": args.size_mib / push_s,
                "pull_mib_s": args.size_mib * args.clients / pull_s,
                "manifest_rps": rps,
            }
            shutil.rmtree(root, ignore_errors=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    peer, ours = results["docker-registry"], results["ollama-py"]
    what = {
        "push_mib_s": (f"push {args.size_mib} MiB, curl PUT, vs docker-registry", "MiB/s", 2.0),
        "pull_mib_s": (f"pull, {args.clients} curl clients, vs docker-registry", "MiB/s", 1.0),
        "manifest_rps": ("manifest GET by tag (wrk), vs docker-registry", "req/s", 0.7),
    }
    emit(
        [
            ratio_at_least("registry", name, ours[key], peer[key], unit, target)
            for key, (name, unit, target) in what.items()
        ],
        args,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
