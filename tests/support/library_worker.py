"""A process that hammers a library, for kill and concurrency tests.

    python -m tests.support.library_worker ROOT MODE SEED [SECONDS]

MODE: ``churn`` (create, copy, remove, prune in a loop), ``remove`` (rm models named r-*),
``prune`` (prune with no grace in a loop), ``read`` (list and read every model's blobs; exit 3 on a
model that is still listed but whose blobs cannot be read).
"""

from __future__ import annotations

import random
import sys
import time
from pathlib import Path

from registry.errors import BlobNotFound, ModelNotFound
from registry.oci.name import ModelName
from registry.store.library import Library
from tests.support.models import make_model


def churn(lib: Library, rng: random.Random, until: float) -> None:
    i = 0
    while time.time() < until:
        i += 1
        name = f"m{rng.randrange(6)}"
        make_model(lib, name, weights=rng.randbytes(rng.randrange(1, 200_000)), system=f"s{i % 3}")
        if rng.random() < 0.5:
            lib.copy(ModelName.parse(name), ModelName.parse(f"c{rng.randrange(4)}"))
        if rng.random() < 0.4:
            try:
                lib.remove(ModelName.parse(f"m{rng.randrange(6)}"))
            except ModelNotFound:
                pass
        if rng.random() < 0.2:
            lib.prune(grace_seconds=0)


def remove_loop(lib: Library, rng: random.Random, until: float) -> None:
    while time.time() < until:
        for row in lib.list_models():
            if row.name.model.startswith("r-"):
                try:
                    lib.remove(row.name)
                except ModelNotFound:
                    pass
        make_model(lib, f"r-{rng.randrange(5)}", weights=rng.randbytes(5000), system="shared system")


def prune_loop(lib: Library, _rng: random.Random, until: float) -> None:
    while time.time() < until:
        lib.prune(grace_seconds=0)


def read_loop(lib: Library, _rng: random.Random, until: float) -> None:
    while time.time() < until:
        for row in lib.list_models():
            try:
                info = lib.model_info(row.name)
                assert info.model_path is not None
                info.model_path.read_bytes()
            except (ModelNotFound, BlobNotFound, FileNotFoundError):
                current = lib.find_model(row.name)
                if current is not None and current.manifest.digest == row.manifest.digest:
                    if row.name.model.startswith("keep"):
                        print(f"lost a blob of {row.name}", file=sys.stderr)
                        sys.exit(3)


MODES = {"churn": churn, "remove": remove_loop, "prune": prune_loop, "read": read_loop}


def main() -> None:
    root, mode, seed = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    seconds = float(sys.argv[4]) if len(sys.argv) > 4 else 3600.0
    lib = Library.open(root)
    print("ready", flush=True)
    MODES[mode](lib, random.Random(seed), time.time() + seconds)
    lib.close()


if __name__ == "__main__":
    main()
