"""The zero-copy receive (``registry.remote.zero_copy``): socket -> pipe -> file in the kernel.

Driven over real sockets (a socketpair, and an aiohttp response from a real loopback server); the
pull paths that use it are covered by ``test_pull_faults`` (each fault with splicing on and off)."""

from __future__ import annotations

import asyncio
import errno
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from registry.remote.zero_copy import BodySplicer, SinkError, take_over
from tests.remote.helpers import weights

pytestmark = pytest.mark.skipif(not hasattr(os, "splice"), reason="splice(2) is Linux-only")


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    a, b = socket.socketpair()
    b.setblocking(False)
    yield a, b
    a.close()
    b.close()


def test_moves_bytes_to_the_offset(pair: tuple[socket.socket, socket.socket], tmp_path: Path) -> None:
    sender, receiver = pair
    data = weights(3 << 20)
    threading.Thread(target=sender.sendall, args=(data,), daemon=True).start()
    fd = os.open(tmp_path / "f", os.O_RDWR | os.O_CREAT)
    try:
        with BodySplicer(receiver.fileno(), stall_timeout=5.0) as splicer:
            got = 0
            while got < len(data):
                got += splicer.move(fd, 100 + got, len(data) - got)
        assert os.pread(fd, len(data) + 100, 0) == bytes(100) + data
    finally:
        os.close(fd)


def test_limit_is_respected_and_eof_is_zero(
    pair: tuple[socket.socket, socket.socket], tmp_path: Path
) -> None:
    sender, receiver = pair
    sender.sendall(b"x" * 5000)
    sender.shutdown(socket.SHUT_WR)
    fd = os.open(tmp_path / "f", os.O_RDWR | os.O_CREAT)
    try:
        with BodySplicer(receiver.fileno(), stall_timeout=5.0) as splicer:
            assert splicer.move(fd, 0, 1000) == 1000
            assert splicer.move(fd, 1000, 10_000) == 4000
            assert splicer.move(fd, 5000, 10_000) == 0  # the peer closed
        assert os.fstat(fd).st_size == 5000
    finally:
        os.close(fd)


def test_stall_raises_timeout(pair: tuple[socket.socket, socket.socket], tmp_path: Path) -> None:
    _, receiver = pair
    fd = os.open(tmp_path / "f", os.O_RDWR | os.O_CREAT)
    try:
        with BodySplicer(receiver.fileno(), stall_timeout=0.3) as splicer, pytest.raises(TimeoutError):
            splicer.move(fd, 0, 1000)
    finally:
        os.close(fd)


def test_abort_returns_soon(pair: tuple[socket.socket, socket.socket], tmp_path: Path) -> None:
    _, receiver = pair
    fd = os.open(tmp_path / "f", os.O_RDWR | os.O_CREAT)
    try:
        with BodySplicer(receiver.fileno(), stall_timeout=60.0) as splicer:
            result: list[int] = []
            worker = threading.Thread(target=lambda: result.append(splicer.move(fd, 0, 1000)))
            worker.start()
            time.sleep(0.1)
            splicer.abort()
            worker.join(timeout=10)  # a bound for a broken abort, not a speed assertion
            assert not worker.is_alive()
            assert result == [0]
    finally:
        os.close(fd)


def test_full_disk_is_a_sink_error(pair: tuple[socket.socket, socket.socket]) -> None:
    sender, receiver = pair
    sender.sendall(b"y" * 4096)
    fd = os.open("/dev/full", os.O_WRONLY)
    try:
        with BodySplicer(receiver.fileno(), stall_timeout=5.0) as splicer, pytest.raises(SinkError) as caught:
            splicer.move(fd, 0, 4096)
        assert isinstance(caught.value.__cause__, OSError)
        assert caught.value.__cause__.errno == errno.ENOSPC
    finally:
        os.close(fd)


async def test_take_over_an_aiohttp_body(tmp_path: Path) -> None:
    """A real response: the buffered head plus the spliced rest are exactly the body."""
    data = weights(2 << 20, seed=7)

    async def blob(request: web.Request) -> web.Response:
        return web.Response(body=data, content_type="application/octet-stream")

    async def chunked(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse()
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        await resp.write(data[:1000])
        await resp.write_eof()
        return resp

    app = web.Application()
    app.router.add_get("/blob", blob)
    app.router.add_get("/chunked", chunked)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    fd = os.open(tmp_path / "f", os.O_RDWR | os.O_CREAT)
    try:
        async with aiohttp.ClientSession() as session:
            async with session.get(f"http://127.0.0.1:{port}/chunked") as resp:
                assert take_over(resp, 5.0) is None  # chunked: read as usual
                assert await resp.read() == data[:1000]
            async with session.get(f"http://127.0.0.1:{port}/blob") as resp:
                splicer = take_over(resp, 5.0)
                assert splicer is not None
                with splicer:
                    os.pwrite(fd, splicer.buffered, 0)
                    got = len(splicer.buffered)
                    while got < len(data):
                        moved = await asyncio.to_thread(splicer.move, fd, got, len(data) - got)
                        assert moved
                        got += moved
                resp.close()
        assert os.pread(fd, len(data) + 1, 0) == data
    finally:
        os.close(fd)
        await runner.cleanup()
