"""The registry web page with 10,000 repositories: list page time vs a ``/v2/_catalog`` request.

    python bench/ui_bench.py [--repos 10000] [--requests 50] [--auth]

Seeds a registry root with ``--repos`` repositories (one manifest and two tags each, written
straight into the catalog: pushing 10,000 models over HTTP would take minutes and measures
nothing here), starts a real ``ollama-py registry serve`` on it, and times, over one keep-alive
connection, alternating requests: ``GET /v2/_catalog`` (every name), ``GET /ui/`` (the first page
of 50), ``GET /ui/?page=150`` (a deep page), ``GET /ui/?q=...`` (a search) and ``GET /ui/api/models``.
Prints medians (the round trip on loopback: an upper bound of server time), each as a ratio to the
catalog request of the same run, and the page weights. ``--auth`` serves with ``[auth]`` (a user who
may pull half of the repositories, by rule) and sends Basic credentials: both requests then filter
every name by the caller's rights. Targets: list page < 100 ms, < 100 KB.
The server is stopped by its PID at the end; the temporary root is deleted.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from registry.oci import mediatypes as mt  # noqa: E402
from registry.oci.digest import sha256_of  # noqa: E402
from registry.oci.manifest import ManifestDocument  # noqa: E402
from registry.ociserver.manifests import manifest_record  # noqa: E402
from registry.ociserver.settings import ServerSettings  # noqa: E402
from registry.ociserver.store import RegistryStore  # noqa: E402
from registry.store.catalog import RegistryCatalog  # noqa: E402


def seed(root: Path, count: int) -> None:
    """``count`` repositories ``team-<i % 100>/model-<i>``, each with ``latest`` and ``v1``."""
    store = RegistryStore.open(ServerSettings(root=root))
    config = json.dumps({"model_format": "gguf", "model_family": "llama", "file_type": "Q4_0"}).encode()
    weights = b"GGUF bench weights"
    now = time.time()

    def run(conn: object) -> None:
        for blob in (config, weights):
            RegistryCatalog.touch_blob(conn, sha256_of(blob), len(blob), now)
        for i in range(count):
            repo = f"team-{i % 100}/model-{i:05d}"
            doc = {
                "schemaVersion": 2,
                "mediaType": mt.DOCKER_MANIFEST,
                "config": {
                    "mediaType": mt.DOCKER_CONFIG,
                    "digest": str(sha256_of(config)),
                    "size": len(config),
                },
                "layers": [
                    {
                        "mediaType": mt.OLLAMA_MODEL,
                        "digest": str(sha256_of(weights)),
                        "size": 4_000_000_000 + i,
                    }
                ],
            }
            record = manifest_record(ManifestDocument.parse(json.dumps(doc).encode(), mt.DOCKER_MANIFEST))
            RegistryCatalog.put_manifest(conn, repo, record, now - i)
            for tag in ("latest", "v1"):
                RegistryCatalog.set_tag(conn, repo, tag, record.digest, now - i)

    store.db.run_write(run)
    store.db.dispose()


def auth_config(path: Path, password: str) -> Path:
    """A config whose user ``bench`` may pull the repositories of teams 1x to 5x (about half)."""
    import bcrypt

    hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(4)).decode()
    rules = "".join(
        f'[[auth.rules]]\nrepository = "team-{n}*/**"\nusers = ["bench"]\nactions = ["pull"]\n'
        for n in range(1, 6)
    )
    path.write_text(f'[auth]\n[[auth.users]]\nname = "bench"\npassword_hash = "{hashed}"\n{rules}')
    return path


def start(root: Path, config: Path | None) -> tuple[subprocess.Popen[str], str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    extra = ["--config", str(config)] if config is not None else []
    command = [sys.executable, "-m", "registry.cli.main", "registry", "serve", "--root", str(root)]
    proc = subprocess.Popen(
        [*command, "--listen", "127.0.0.1:0", *extra],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        match = re.search(r"listening on http://(\S+)", line)
        if match:
            return proc, match.group(1)
    raise RuntimeError("registry did not start")


def get(conn: http.client.HTTPConnection, path: str, headers: dict[str, str]) -> tuple[float, int]:
    start = time.perf_counter()
    conn.request("GET", path, headers=headers)
    response = conn.getresponse()
    body = response.read()
    elapsed = time.perf_counter() - start
    if response.status != 200:
        raise RuntimeError(f"GET {path}: {response.status} {body[:200]!r}")
    return elapsed, len(body)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repos", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--auth", action="store_true", help="serve with [auth] and send Basic credentials")
    args = parser.parse_args()
    paths = {
        "catalog": "/v2/_catalog",
        "list page": "/ui/",
        "deep page": "/ui/?page=150",
        "search": "/ui/?q=model-0999",
        "list JSON": "/ui/api/models",
    }
    with tempfile.TemporaryDirectory(prefix="ui-bench-") as tmp:
        root = Path(tmp) / "root"
        began = time.perf_counter()
        seed(root, args.repos)
        print(f"seeded {args.repos} repositories in {time.perf_counter() - began:.1f} s")
        config = auth_config(Path(tmp) / "auth.toml", "bench-password") if args.auth else None
        headers = (
            {"Authorization": "Basic " + base64.b64encode(b"bench:bench-password").decode()}
            if args.auth
            else {}
        )
        proc, host = start(root, config)
        try:
            conn = http.client.HTTPConnection(host, timeout=60)
            for path in paths.values():  # warm up: imports, template compile, SQLite page cache
                get(conn, path, headers)
            times: dict[str, list[float]] = {name: [] for name in paths}
            sizes: dict[str, int] = {}
            for _ in range(args.requests):
                for name, path in paths.items():
                    elapsed, size = get(conn, path, headers)
                    times[name].append(elapsed)
                    sizes[name] = size
            conn.close()
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(10)
    base = statistics.median(times["catalog"])
    print(f"{'request':<12} {'median ms':>10} {'p90 ms':>8} {'x catalog':>10} {'bytes':>9}")
    for name, values in times.items():
        median = statistics.median(values)
        p90 = statistics.quantiles(values, n=10)[-1]
        print(f"{name:<12} {median * 1000:>10.1f} {p90 * 1000:>8.1f} {median / base:>10.2f} {sizes[name]:>9}")
    page = statistics.median(times["list page"])
    print(
        f"list page: {page * 1000:.1f} ms (target < 100 ms), {sizes['list page'] / 1000:.1f} KB (target < 100 KB), "
        f"{page / base:.2f} x a /v2/_catalog request"
    )


if __name__ == "__main__":
    main()
