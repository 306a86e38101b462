"""Large bodies: the socket fast path (PUT, PATCH with Content-Range, POST ?digest=), direct-I/O appends
at aligned and unaligned offsets, chunked transfer encoding, and truncated bodies."""

from __future__ import annotations

import asyncio
import ctypes
import itertools
import mmap
import os
import socket
from pathlib import Path

import aiohttp

from registry.oci.digest import Digest
from registry.ociserver.http.keys import STORE
from registry.ociserver.http.raw_body import RAW_THRESHOLD
from registry.store.blobs.appender import open_appender
from tests.support.registry_server import RunningRegistry, sha

Http = aiohttp.ClientSession
BIG = RAW_THRESHOLD + 4_321_123  # not a multiple of the 4 KiB direct-I/O alignment


async def _session(http: Http, reg: RunningRegistry) -> str:
    async with http.post(f"{reg.url}/v2/big/r/blobs/uploads/") as r:
        return r.headers["Location"]


async def test_large_put_then_connection_is_usable(registry: RunningRegistry, http: Http) -> None:
    data = os.urandom(BIG)
    location = await _session(http, registry)
    async with http.put(location, params={"digest": sha(data)}, data=data) as r:
        assert r.status == 201, await r.text()
    async with http.get(f"{registry.url}/v2/big/r/blobs/{sha(data)}") as r:
        assert await r.read() == data
    async with http.post(
        f"{registry.url}/v2/big/r/blobs/uploads/", params={"digest": sha(data[::-1])}, data=data[::-1]
    ) as r:
        assert r.status == 201


async def test_large_chunks_at_unaligned_offsets(registry: RunningRegistry, http: Http) -> None:
    data = os.urandom(2 * BIG + 1000)
    location = await _session(http, registry)
    cuts = [0, 1000, 1000 + BIG, len(data)]  # the 2nd and 3rd chunks start unaligned
    for start, end in itertools.pairwise(cuts):
        headers = {"Content-Range": f"{start}-{end - 1}"}
        async with http.patch(location, data=data[start:end], headers=headers) as r:
            assert r.status == 202, await r.text()
            location = r.headers["Location"]
    async with http.put(location, params={"digest": sha(data)}) as r:
        assert r.status == 201, await r.text()


async def test_chunked_transfer_encoding_body(registry: RunningRegistry, http: Http) -> None:
    data = os.urandom(BIG)

    async def stream() -> object:
        for i in range(0, len(data), 1 << 20):
            yield data[i : i + (1 << 20)]

    location = await _session(http, registry)
    async with http.put(location, params={"digest": sha(data)}, data=stream()) as r:
        assert r.status == 201, await r.text()


async def test_truncated_large_body_accepts_nothing(registry: RunningRegistry, http: Http) -> None:
    location = await _session(http, registry)
    path = location.split(registry.host, 1)[1]
    data = os.urandom(RAW_THRESHOLD + 100)
    host, port = registry.host.split(":")

    def send_half() -> None:
        with socket.create_connection((host, int(port))) as s:
            head = f"PATCH {path} HTTP/1.1\r\nHost: {registry.host}\r\nContent-Length: {len(data)}\r\n\r\n"
            s.sendall(head.encode() + data[: len(data) // 2])

    await asyncio.to_thread(send_half)
    for _ in range(50):
        async with http.get(location) as r:
            assert r.status == 204
            if r.headers["Range"] == "0-0":
                break
        await asyncio.sleep(0.05)
    async with http.patch(location, data=data, headers={"Content-Range": f"0-{len(data) - 1}"}) as r:
        assert r.status == 202, await r.text()
    async with http.put(location, params={"digest": sha(data)}) as r:
        assert r.status == 201


def test_direct_appender_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"x" * 10)
    pieces = [os.urandom(n) for n in (1, 4 << 20, 5000, (4 << 20) + 7, 3)]
    appender = open_appender(path, 0)
    for piece in pieces:
        appender.write(piece)
    appender.close()
    assert path.read_bytes() == b"".join(pieces)
    appender = open_appender(path, 5)  # unaligned: truncates and appends through the page cache
    appender.write(b"tail")
    appender.close()
    assert path.read_bytes() == pieces[0] + pieces[1][:4] + b"tail"


async def test_large_whole_blob_gets_reuse_the_connection(registry: RunningRegistry) -> None:
    data = os.urandom(BIG)
    connector = aiohttp.TCPConnector(limit=1)
    async with aiohttp.ClientSession(connector=connector) as http:
        location = await _session(http, registry)
        async with http.put(location, params={"digest": sha(data)}, data=data) as r:
            assert r.status == 201
        url = f"{registry.url}/v2/big/r/blobs/{sha(data)}"
        for _ in range(2):
            async with http.get(url) as r:
                assert r.status == 200 and r.headers["Content-Length"] == str(BIG)
                assert await r.read() == data
        async with http.get(url, headers={"Range": "bytes=10-19"}) as r:
            assert r.status == 206 and await r.read() == data[10:20]
        async with http.head(url) as r:
            assert r.status == 200 and r.headers["Content-Length"] == str(BIG)


async def test_client_leaving_mid_download_breaks_nothing(registry: RunningRegistry, http: Http) -> None:
    data = os.urandom(BIG * 3)
    location = await _session(http, registry)
    async with http.put(location, params={"digest": sha(data)}, data=data) as r:
        assert r.status == 201
    host, port = registry.host.split(":")
    path = f"/v2/big/r/blobs/{sha(data)}"

    def read_a_little() -> bytes:
        with socket.create_connection((host, int(port))) as s:
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: {registry.host}\r\n\r\n".encode())
            return s.recv(65536)

    head = await asyncio.to_thread(read_a_little)
    assert head.startswith(b"HTTP/1.1 200")
    async with http.get(f"{registry.url}{path}", headers={"Range": "bytes=0-9"}) as r:
        assert r.status == 206 and await r.read() == data[:10]


async def test_stalled_downloads_do_not_stall_other_requests(registry: RunningRegistry, http: Http) -> None:
    """More stalled whole-blob downloads than asyncio's default executor has threads: catalog work
    (here a tag list) still answers, because blob sends run on their own thread pool."""
    data = os.urandom(BIG * 3)
    location = await _session(http, registry)
    async with http.put(location, params={"digest": sha(data)}, data=data) as r:
        assert r.status == 201
    host, port = registry.host.split(":")
    request = f"GET /v2/big/r/blobs/{sha(data)} HTTP/1.1\r\nHost: {registry.host}\r\n\r\n".encode()
    stalled: list[asyncio.StreamWriter] = []
    try:
        async with asyncio.timeout(30):  # without the separate pool this waits out the 120 s send timeout
            for _ in range(min(32, (os.cpu_count() or 1) + 4) + 2):
                sock = socket.socket()
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                sock.setblocking(False)
                await asyncio.get_running_loop().sock_connect(sock, (host, int(port)))
                reader, writer = await asyncio.open_connection(sock=sock)
                stalled.append(writer)
                writer.write(request)
                assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 200")
                # ... and never read the body
            async with http.get(f"{registry.url}/v2/big/r/tags/list") as r:
                assert r.status == 200
    finally:
        for writer in stalled:
            writer.close()


def _resident_fraction(path: Path) -> float:
    """Share of ``path``'s pages in the page cache (mincore on a private mapping)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mincore.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p]
    size = path.stat().st_size
    pages = (size + mmap.PAGESIZE - 1) // mmap.PAGESIZE
    with path.open("rb") as f, mmap.mmap(f.fileno(), size, access=mmap.ACCESS_COPY) as m:
        vec = (ctypes.c_ubyte * pages)()
        anchor = ctypes.c_char.from_buffer(m)
        try:
            assert libc.mincore(ctypes.addressof(anchor), size, vec) == 0, ctypes.get_errno()
        finally:
            del anchor
    return sum(v & 1 for v in vec) / pages


async def test_pushed_blob_is_left_in_the_page_cache(registry: RunningRegistry, http: Http) -> None:
    """Uploads bypass the page cache (O_DIRECT); the commit queues a read-back so that a pull right
    after a push is served from memory."""
    data = os.urandom(64 << 20)
    location = await _session(http, registry)
    async with http.put(location, params={"digest": sha(data)}, data=data) as r:
        assert r.status == 201
    path = registry.app[STORE].backend.local_path(Digest.parse(sha(data)))
    assert path is not None
    resident = 0.0
    for _ in range(100):  # the queued reads finish within a fraction of a second
        resident = _resident_fraction(path)
        if resident > 0.95:
            break
        await asyncio.sleep(0.05)
    assert resident > 0.95
