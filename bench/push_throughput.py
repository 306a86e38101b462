"""Push of a 1 GiB blob to a local docker-registry vs one ``curl -T`` PUT of it (target >= 0.7).

Both send the same bytes to the same server; each run goes to a fresh repository. The registry
(distribution 2.8.2) is itself CPU-bound at a few hundred MiB/s here, which caps both.

    python -m bench.push_throughput [--size-mib 1024] [--rounds 2] [--short] [--json PATH]

``--short``: a 256 MiB blob.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from bench.registry_fixture import curl_put, distribution_registry, make_blob
from bench.report import Measure, add_common_args, emit, ratio_at_least
from registry.oci import mediatypes as mt
from registry.oci.digest import Digest
from registry.oci.manifest import Descriptor, build_manifest
from registry.oci.name import ModelName
from registry.remote.push import push_model
from registry.store.library import Library


async def _push(library: Library, name: ModelName) -> float:
    start = time.perf_counter()
    async for _ in push_model(library, name, insecure=True):
        pass
    return time.perf_counter() - start


def measures(size_mib: int, rounds: int) -> list[Measure]:
    """Alternate curl and our push ``rounds`` times; the best of each as a measure."""
    size = size_mib << 20
    with tempfile.TemporaryDirectory(dir=Path.home()) as tmp_text:
        tmp = Path(tmp_text)
        blob = tmp / "blob"
        hexd = make_blob(blob, size)
        library = Library.open(tmp / "store")
        weights, _ = library.add_file(blob, Digest(hexd))
        config, csize = library.add_bytes(b'{"model_format":"gguf"}')
        manifest = build_manifest(
            Descriptor(mt.DOCKER_CONFIG, config, csize), [Descriptor(mt.OLLAMA_MODEL, weights, size)]
        )
        curl_times, our_times = [], []
        with distribution_registry(tmp) as host:
            for i in range(rounds):
                curl_times.append(curl_put(host, f"bench/curl{i}", blob, hexd))
                name = ModelName.parse(f"{host}/bench/ours{i}:v1")
                library.put_model(name, manifest)
                if i:  # no other local repository on this registry: no cross-repo mount shortcut
                    library.remove(ModelName.parse(f"{host}/bench/ours{i - 1}:v1"))
                our_times.append(asyncio.run(_push(library, name)))
        library.close()
    mib = size / (1 << 20)
    runs = f"runs (s): ours {[round(t, 2) for t in our_times]}, curl {[round(t, 2) for t in curl_times]}"
    return [
        ratio_at_least(
            "push",
            f"{size_mib} MiB vs curl PUT -T",
            mib / min(our_times),
            mib / min(curl_times),
            "MiB/s",
            0.7,
            runs,
        )
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mib", type=int, default=None, help="default 1024 (--short: 256)")
    parser.add_argument("--rounds", type=int, default=2)
    add_common_args(parser)
    args = parser.parse_args()
    emit(measures(args.size_mib or (256 if args.short else 1024), args.rounds), args)


if __name__ == "__main__":
    main()
