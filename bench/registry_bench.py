"""Registry server benchmarks against docker-registry (distribution 2.8.2, Debian) started here on loopback.

    python -m bench.registry_bench [--size-mib 1024] [--clients 8] [--wrk-seconds 10] [--short] [--json PATH]

Runs the same three workloads against both servers in one run and prints the ratios:

1. push one blob with curl (POST, then ``PUT -T file ?digest=``): MiB/s, target >= 2.0x;
2. pull the blob with N concurrent curl clients to /dev/null: aggregate MiB/s, target >= 1.0x;
3. manifest GETs by tag with wrk, 64 connections: requests/s, target >= 0.7x.

Then the auth-on round (``--no-auth`` skips it), in the same run: docker-registry with htpasswd
(bcrypt, cost 10) and ours with ``[auth]`` (the same bcrypt hash, ``anonymous_pull = false``):

4. manifest GETs with wrk (16 connections, at least 10 s) carrying a Bearer token from our
   ``/v2/token``: req/s against docker-registry's with Basic credentials, target >= 5x (bcrypt
   must not run per request);
5. the same with Basic credentials on ours, target >= 5x;
6. our push with auth on (a push-scoped Bearer token) against our push with auth off: >= 0.95x.

Every process started is stopped by PID at the end; temporary roots are deleted.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
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


def wait_up(url: str, *curl_args: str) -> None:
    for _ in range(200):
        if subprocess.run(["curl", "-sf", "-o", "/dev/null", *curl_args, url]).returncode == 0:
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


USER, PASSWORD = "bench", "bench-password"

#: wrk connections in the auth-on GET round (both servers): with 64, docker-registry's 64 concurrent
#: bcrypt checks on a 2-core machine finish no request within a 5 s run.
AUTH_CONNECTIONS = 16


def bcrypt_hash(password: str) -> str:
    """A bcrypt hash at cost 10 (the usual default: about 50-100 ms a check)."""
    import bcrypt

    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(10)).decode()


def start_docker_registry_htpasswd(root: Path, password_hash: str) -> tuple[subprocess.Popen[bytes], str]:
    """docker-registry with htpasswd auth (bcrypt): every request carries Basic credentials."""
    port = free_port()
    htpasswd = root / "htpasswd"
    htpasswd.write_text(f"{USER}:{password_hash}\n")
    config = root / "config.yml"
    config.write_text(
        f"version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {root / 'data'}\n"
        f"  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n"
        f"auth:\n  htpasswd:\n    realm: bench\n    path: {htpasswd}\n"
    )
    proc = subprocess.Popen(
        ["docker-registry", "serve", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    wait_up(f"{url}/v2/", "-u", f"{USER}:{PASSWORD}")
    return proc, url


def start_ours_auth(root: Path, password_hash: str) -> tuple[subprocess.Popen[bytes], str]:
    """Ours with ``[auth]`` (bearer scheme; Basic credentials are taken too)."""
    config = root / "registry.toml"
    config.write_text(
        '[auth]\nanonymous_pull = false\ntoken_secret = "bench-0123456789abcdef0123456789"\n'
        f'[[auth.users]]\nname = "{USER}"\npassword_hash = "{password_hash}"\n'
    )
    proc, url = start_ours(root / "data", "--config", str(config), probe=("-u", f"{USER}:{PASSWORD}"))
    return proc, url


def bearer(url: str, scope: str) -> str:
    """``Authorization`` header value: a token from our ``/v2/token`` for ``scope``."""
    body = curl("-f", "-u", f"{USER}:{PASSWORD}", f"{url}/v2/token?service=ollama-py-registry&scope={scope}")
    return f"Bearer {json.loads(body)['token']}"


def basic() -> str:
    import base64

    return "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()


def start_ours(root: Path, *extra: str, probe: tuple[str, ...] = ()) -> tuple[subprocess.Popen[bytes], str]:
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
            *extra,
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    wait_up(f"{url}/v2/", *probe)
    return proc, url


def curl(*args: str) -> str:
    return subprocess.run(["curl", "-s", *args], check=True, capture_output=True, text=True).stdout


def push(url: str, repo: str, path: Path, digest: str, auth: str | None = None) -> float:
    started = time.monotonic()
    auth_args = ("-H", f"Authorization: {auth}") if auth else ()
    headers = curl("-D", "-", "-o", "/dev/null", *auth_args, "-X", "POST", f"{url}/v2/{repo}/blobs/uploads/")
    location = re.search(r"(?im)^location:\s*(\S+)", headers).group(1)  # type: ignore[union-attr]
    if location.startswith("/"):
        location = url + location
    sep = "&" if "?" in location else "?"
    code = curl(
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        *auth_args,
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


def put_manifest(url: str, repo: str, auth: str | None = None) -> None:
    config = b"{}"
    auth_args = ("-H", f"Authorization: {auth}") if auth else ()
    for blob in (config,):
        d = "sha256:" + hashlib.sha256(blob).hexdigest()
        tmp = Path(tempfile.mktemp())
        tmp.write_bytes(blob)
        push(url, repo, tmp, d, auth)
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
        *auth_args,
        "--data-binary",
        manifest,
        f"{url}/v2/{repo}/manifests/latest",
    )
    assert code == "201", code


def wrk(url: str, repo: str, seconds: int, auth: str | None = None, connections: int = 64) -> float:
    """Manifest GETs by tag for ``seconds`` on ``connections`` connections (30 s request timeout)."""
    auth_args = ("-H", f"Authorization: {auth}", "--timeout", "30s") if auth else ()
    out = subprocess.run(
        [
            "wrk",
            *auth_args,
            "-t",
            "2",
            "-c",
            str(connections),
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
    if "Non-2xx or 3xx responses" in out:
        raise RuntimeError(f"wrk got error responses:\n{out}")
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
    parser.add_argument("--no-auth", action="store_true", help="skip the auth-on round")
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
        if not args.no_auth:
            results["auth"] = auth_round(work, blob, digest, args)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    peer, ours = results["docker-registry"], results["ollama-py"]
    what = {
        "push_mib_s": (f"push {args.size_mib} MiB, curl PUT, vs docker-registry", "MiB/s", 2.0),
        "pull_mib_s": (f"pull, {args.clients} curl clients, vs docker-registry", "MiB/s", 1.0),
        "manifest_rps": ("manifest GET by tag (wrk), vs docker-registry", "req/s", 0.7),
    }
    measures = [
        ratio_at_least("registry", name, ours[key], peer[key], unit, target)
        for key, (name, unit, target) in what.items()
    ]
    if "auth" in results:
        auth = results["auth"]
        measures += [
            ratio_at_least(
                "registry",
                "manifest GET, auth on: ours with a Bearer token vs docker-registry htpasswd Basic",
                auth["ours_bearer_rps"],
                auth["peer_basic_rps"],
                "req/s",
                5.0,
            ),
            ratio_at_least(
                "registry",
                "manifest GET, auth on: ours with Basic (bcrypt) vs docker-registry htpasswd Basic",
                auth["ours_basic_rps"],
                auth["peer_basic_rps"],
                "req/s",
                5.0,
            ),
            ratio_at_least(
                "registry",
                f"push {args.size_mib} MiB with auth on (Bearer) vs ours with auth off",
                auth["ours_push_on_mib_s"],
                auth["ours_push_off_mib_s"],
                "MiB/s",
                0.95,
                "alternating, best of two pushes on each side",
            ),
        ]
    emit(measures, args)
    return 0


def auth_round(work: Path, blob: Path, digest: str, args: argparse.Namespace) -> dict[str, float]:
    """The auth-on figures: docker-registry (htpasswd, bcrypt) and ours ([auth], the same hash);
    our pushes with auth on and off alternate (two each, both servers up), best of each."""
    password_hash = bcrypt_hash(PASSWORD)
    auth_seconds = max(args.wrk_seconds, 10)  # docker-registry's bcrypt per request: ~0.2 s each
    out: dict[str, float] = {}
    root = work / "docker-registry-htpasswd"
    root.mkdir()
    proc, url = start_docker_registry_htpasswd(root, password_hash)
    try:
        put_manifest(url, "bench/manifest", basic())
        out["peer_basic_rps"] = wrk(url, "bench/manifest", auth_seconds, basic(), AUTH_CONNECTIONS)
    finally:
        stop(proc)
    shutil.rmtree(root, ignore_errors=True)
    (work / "ours-on").mkdir()
    (work / "ours-off").mkdir()
    on, on_url = start_ours_auth(work / "ours-on", password_hash)
    try:
        off, off_url = start_ours(work / "ours-off")
        try:
            best = {"on": math.inf, "off": math.inf}
            for attempt in range(2):
                for kind, url in (("off", off_url), ("on", on_url)):
                    repo = f"bench/blob{attempt}"
                    auth = bearer(url, f"repository:{repo}:pull,push") if kind == "on" else None
                    os.sync()
                    best[kind] = min(best[kind], push(url, repo, blob, digest, auth))
        finally:
            stop(off)
        out["ours_push_on_mib_s"] = args.size_mib / best["on"]
        out["ours_push_off_mib_s"] = args.size_mib / best["off"]
        put_manifest(on_url, "bench/manifest", bearer(on_url, "repository:bench/manifest:pull,push"))
        token = bearer(on_url, "repository:bench/manifest:pull")
        out["ours_bearer_rps"] = wrk(on_url, "bench/manifest", auth_seconds, token, AUTH_CONNECTIONS)
        out["ours_basic_rps"] = wrk(on_url, "bench/manifest", auth_seconds, basic(), AUTH_CONNECTIONS)
    finally:
        stop(on)
    shutil.rmtree(work / "ours-on", ignore_errors=True)
    shutil.rmtree(work / "ours-off", ignore_errors=True)
    return out


if __name__ == "__main__":
    sys.exit(main())
