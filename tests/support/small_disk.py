"""A real full disk for tests: a small tmpfs mounted on a temporary directory (skips where mounting is
not allowed)."""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

__all__ = ["small_disk"]


@contextlib.contextmanager
def small_disk(mount_point: Path, size: str = "2m") -> Iterator[Path]:
    """Mount a tmpfs of ``size`` (``mount -o size=``) on ``mount_point`` for the duration; yields it.

    Skips the test when the machine does not let us mount (no privileges).
    """
    mount_point.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount_point)], capture_output=True
    )
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.decode().strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)
