"""CPU facts the runner decides by: how many threads llama.cpp should use by default (the physical
cores this process may run on), and whether llama.cpp may repack weights into its extra CPU buffer
types (see :func:`use_cpu_repack`).

Threads:

This is llama.cpp's own default (``cpu_get_num_physical_cores``) and Ollama's: hyper-threads share a
core's vector units, so counting them slows decoding, while leaving real cores idle wastes them.
On a 2-core machine the difference is large: batched decoding of 4 sequences on Gemma 3 270M ran at
63 tok/s with 1 thread and 120 tok/s with 2 (single sequence: 86 vs 97 tok/s).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

__all__ = ["physical_cores", "use_cpu_repack"]

#: Environment override of :func:`use_cpu_repack`: "1" forces repacking on, "0" off.
REPACK_ENV = "OLLAMA_PY_CPU_REPACK"


def physical_cores() -> int:
    """Physical cores among the CPUs in this process's affinity mask (at least 1).

    Reads ``/sys/devices/system/cpu/cpuN/topology/thread_siblings_list``; where that is missing
    (not Linux, restricted /sys), every available CPU counts as a core.
    """
    try:
        cpus = sorted(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)
    cores: set[str] = set()
    for cpu in cpus:
        siblings = Path(f"/sys/devices/system/cpu/cpu{cpu}/topology/thread_siblings_list")
        try:
            cores.add(siblings.read_text().strip())
        except OSError:
            cores.add(f"cpu{cpu}")
    return max(1, len(cores))


def use_cpu_repack(environ: Mapping[str, str] = os.environ, cpuinfo: str | None = None) -> bool:
    """Whether llama.cpp may put weights in its extra CPU buffer types (``use_extra_bufts``: weights
    repacked for AMX, AVX-512 or ARM kernels at load).

    Off on CPUs with Intel AMX: llama.cpp as vendored by llama-cpp-python 0.3.36 repacks Gemma 3's
    Q4_K/Q6_K/Q8_0 tensors into its AMX buffer and then crashes (SIGSEGV) in the first
    ``llama_decode`` (seen on a Xeon with amx_tile/amx_int8/amx_bf16; the same file decodes with
    repacking off). On every other CPU llama.cpp's default (on) is kept. ``OLLAMA_PY_CPU_REPACK=1``
    or ``=0`` overrides the rule either way. ``cpuinfo`` is ``/proc/cpuinfo``'s text (read when None;
    where it cannot be read, no AMX is assumed).
    """
    forced = environ.get(REPACK_ENV, "").strip()
    if forced in ("0", "1"):
        return forced == "1"
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            return True
    flags = next((line for line in cpuinfo.splitlines() if line.startswith("flags")), "")
    return "amx_tile" not in flags.split()
