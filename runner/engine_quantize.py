"""llama.cpp's quantizer through llama-cpp-python's bindings (one of the ``runner.engine*`` modules,
the only places allowed to import ``llama_cpp``)."""

from __future__ import annotations

import ctypes
from pathlib import Path

__all__ = ["FILE_TYPES", "quantize_file"]

#: Target names -> llama.cpp ``llama_ftype`` values (Ollama's accepted targets).
FILE_TYPES = {"F32": 0, "F16": 1, "Q8_0": 7, "Q4_K_S": 14, "Q4_K_M": 15, "BF16": 32}


def quantize_file(source: Path, dest: Path, file_type: str, threads: int = 0) -> None:
    """Quantize the GGUF ``source`` into ``dest`` (overwritten). Blocks until done.

    llama.cpp logs one line per tensor (``[  n/ total] name ...``) to stderr while it works.

    Raises:
        ValueError: an unknown ``file_type``.
        RuntimeError: llama.cpp failed (unknown architecture, unreadable or malformed input).
    """
    import llama_cpp

    if file_type not in FILE_TYPES:
        raise ValueError(f"unsupported quantization type {file_type}")
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = FILE_TYPES[file_type]
    params.nthread = threads
    status = llama_cpp.llama_model_quantize(str(source).encode(), str(dest).encode(), ctypes.byref(params))
    if status != 0:
        raise RuntimeError(f"llama.cpp could not quantize {source} (status {status})")
