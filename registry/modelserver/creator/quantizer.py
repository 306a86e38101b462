"""Quantize a GGUF file with llama.cpp in a child process (``python -m runner.quantize``).

The registry never imports ``llama_cpp``; the runner's quantize entry point does the work and its
per-tensor log lines (``[  n/ total] ...``) become progress events.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from registry.errors import InvalidWeights
from registry.store.library.progress import Progress

__all__ = ["QUANTIZABLE_SOURCES", "quantize"]

#: Only these source types can be quantized (as in Ollama).
QUANTIZABLE_SOURCES = ("F16", "BF16", "F32")
_TENSOR_LINE = re.compile(rb"^\[\s*(\d+)/\s*(\d+)\]")
#: Ollama sends this placeholder digest with quantize progress.
_PLACEHOLDER = "0000000000000000000"


def quantize(source: Path, dest: Path, source_type: str, target: str) -> Iterator[Progress]:
    """Quantize ``source`` (of type ``source_type``) into ``dest``, yielding Ollama's progress:
    ``quantizing F16 model to Q4_K_M`` with ``total``/``completed`` counting tensors.

    On failure ``dest`` is removed. Cancelling (closing the generator) kills the child.

    Raises:
        InvalidWeights: the source type cannot be quantized, or llama.cpp failed (its message).
    """
    if source_type not in QUANTIZABLE_SOURCES:
        raise InvalidWeights("quantization is only supported for F16, BF16 and F32 models")
    status = f"quantizing {source_type} model to {target}"
    command = [sys.executable, "-m", "runner.quantize", str(source), str(dest), target]
    child = subprocess.Popen(
        command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    last_lines: list[bytes] = []
    ok = False
    try:
        assert child.stderr is not None
        for line in child.stderr:
            match = _TENSOR_LINE.match(line)
            if match:
                done, total = int(match.group(1)), int(match.group(2))
                yield Progress(status, _PLACEHOLDER, total, done)
            else:
                last_lines = [*last_lines[-20:], line]
        ok = child.wait() == 0
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        if not ok:
            dest.unlink(missing_ok=True)
    if not ok:
        message = _error_message(last_lines)
        raise InvalidWeights(f"quantizing {source.name} to {target} failed: {message}")


def _error_message(lines: list[bytes]) -> str:
    for line in reversed(lines):
        text = line.decode("utf-8", errors="replace").strip()
        if text.startswith("error: "):
            return text.removeprefix("error: ")
    for line in reversed(lines):
        text = line.decode("utf-8", errors="replace").strip()
        if text:
            return text
    return "llama.cpp gave no reason"
