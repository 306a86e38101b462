"""A throwaway PostgreSQL cluster for tests: initdb + pg_ctl in a temp dir on a free loopback port.

Use the ``postgres_url`` fixture (re-exported by test packages' conftest) or :func:`start_postgres`.
Skips cleanly when the PostgreSQL server binaries are not installed (CI installs them).
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

__all__ = ["find_pg_bin", "postgres_url", "start_postgres"]


def find_pg_bin() -> Path | None:
    """The directory holding ``initdb`` and ``pg_ctl``, or None."""
    initdb = shutil.which("initdb")
    if initdb and shutil.which("pg_ctl"):
        return Path(initdb).parent
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if (Path(candidate) / "initdb").exists():
            return Path(candidate)
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def start_postgres() -> Iterator[str]:
    """Start a cluster; yields a SQLAlchemy URL (psycopg 3). Stops and deletes it afterwards."""
    bin_dir = find_pg_bin()
    if bin_dir is None:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    tmp = Path(tempfile.mkdtemp(prefix="pgtest-"))
    data, port = tmp / "data", _free_port()
    env = dict(os.environ, LC_ALL="C")
    run_as: list[str] = []
    if os.geteuid() == 0:  # initdb refuses root: run as the postgres (or nobody) user
        user = "postgres" if shutil.which("id") and subprocess.run(["id", "postgres"], capture_output=True).returncode == 0 else "nobody"
        shutil.chown(tmp, user)
        run_as = ["runuser", "-u", user, "--"]
    subprocess.run([*run_as, str(bin_dir / "initdb"), "-D", str(data), "-U", "test", "--auth=trust", "-E", "UTF8"],
                   check=True, capture_output=True, env=env)
    opts = f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={tmp} -c fsync=off"
    subprocess.run([*run_as, str(bin_dir / "pg_ctl"), "-D", str(data), "-o", opts, "-l", str(tmp / "log"), "-w", "start"],
                   check=True, capture_output=True, env=env)
    try:
        yield f"postgresql+psycopg://test@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*run_as, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                       capture_output=True, env=env)
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A session-wide throwaway PostgreSQL server's URL (tests use distinct roots but share the DB)."""
    with start_postgres() as url:
        yield url
