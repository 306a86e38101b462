"""A separate process that pulls or pushes (the SIGKILL tests kill it at random moments).

python -m tests.remote.worker pull|push STORE_ROOT NAME [PART_SIZE]
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from registry.oci.name import ModelName
from registry.remote.options import TransferOptions
from registry.remote.pull import pull_model
from registry.remote.push import push_model
from registry.store.library import Library


async def main(action: str, root: str, name: str, part: int) -> None:
    library = Library.open(Path(root))
    options = TransferOptions(
        part_size=part,
        checkpoint_bytes=64 * 1024,
        monolithic_limit=part,
        upload_chunk=part,
        backoff_base=0.01,
    )
    run = pull_model if action == "pull" else push_model
    try:
        async for event in run(library, ModelName.parse(name), insecure=True, options=options):
            print(json.dumps(event.to_json()), flush=True)
    finally:
        library.close()


if __name__ == "__main__":
    asyncio.run(
        main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]) if len(sys.argv) > 4 else 1 << 20)
    )
