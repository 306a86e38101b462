"""``python -m runner.quantize SOURCE DEST TYPE``: quantize a GGUF file in a separate process.

The model server runs this as a subprocess so that ``llama_cpp`` is never imported by the registry.
It exits (removing DEST) when its parent dies.
Exit status 0 on success; 2 for bad arguments; 1 when llama.cpp fails, with ``error: <message>``
as the last line on stderr. llama.cpp's per-tensor log lines (``[  n/ total] ...``) go to stderr
and are the progress the caller reads.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path


def _die_with_parent(dest: Path) -> None:
    """Exit (removing the half-written ``dest``) as soon as the parent process is gone, so a killed
    model server or CLI leaves no quantizer running."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.2)
        dest.unlink(missing_ok=True)
        os._exit(1)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def main(argv: list[str]) -> int:
    """Run one quantization; see the module docstring."""
    if len(argv) != 3:
        print("usage: python -m runner.quantize SOURCE DEST TYPE", file=sys.stderr)
        return 2
    from runner.engine_quantize import quantize_file

    source, dest, file_type = Path(argv[0]), Path(argv[1]), argv[2]
    _die_with_parent(dest)
    try:
        quantize_file(source, dest, file_type)
    except (ValueError, RuntimeError, OSError) as err:
        print(f"error: {err}", file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
