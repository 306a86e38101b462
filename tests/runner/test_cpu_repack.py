"""``runner.cpu.use_cpu_repack``: llama.cpp's extra CPU buffer types off on AMX CPUs, overridable."""

from __future__ import annotations

from runner.cpu import REPACK_ENV, use_cpu_repack

AMX = "processor\t: 0\nflags\t\t: fpu sse avx2 avx512f amx_bf16 amx_tile amx_int8\n"
NO_AMX = "processor\t: 0\nflags\t\t: fpu sse avx2 avx512f avx512_vnni\n"


def test_off_on_amx_on_elsewhere() -> None:
    assert use_cpu_repack({}, AMX) is False
    assert use_cpu_repack({}, NO_AMX) is True
    assert use_cpu_repack({}, "") is True  # no flags line: nothing known against it


def test_the_environment_overrides_either_way() -> None:
    assert use_cpu_repack({REPACK_ENV: "1"}, AMX) is True
    assert use_cpu_repack({REPACK_ENV: "0"}, NO_AMX) is False
    assert use_cpu_repack({REPACK_ENV: "yes"}, AMX) is False  # not 0/1: the rule decides
