"""An S3-compatible server on loopback for tests: moto's server mode in a thread (port 0)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest

__all__ = ["moto_s3"]


@contextmanager
def moto_s3() -> Iterator[str]:
    """Start moto's S3 server on 127.0.0.1; yields its endpoint URL. Skips when moto is missing."""
    try:
        from moto.server import ThreadedMotoServer
    except ImportError:
        pytest.skip("moto[server] is not installed")
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{server._server.server_port}"  # type: ignore[union-attr]
    finally:
        server.stop()
