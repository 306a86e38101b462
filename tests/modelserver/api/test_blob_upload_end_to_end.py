"""Issue 10 item 1 on the model server, end to end: ``POST /api/blobs/:digest`` to ``ollama-py serve``
(a subprocess) with bytes that are not the digest's (longer, shorter, cut off mid-body) stores
nothing; the honest upload of that digest afterwards stores exactly the honest bytes."""

from __future__ import annotations

import hashlib
import http.client
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.serve_process import ServeProcess, cli, cli_env, free_port

GOOD = b"GOODPREFIX"
DIGEST = "sha256:" + hashlib.sha256(GOOD).hexdigest()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[ServeProcess, dict[str, str]]]:
    env = cli_env(tmp_path / "store", tmp_path, OLLAMA_HOST=f"127.0.0.1:{free_port()}")
    process = ServeProcess(env)
    try:
        assert process.listening, process.text()
        yield process, env
    finally:
        process.stop()


def _request(env: dict[str, str], method: str, body: bytes = b"") -> tuple[int, bytes]:
    host, port = env["OLLAMA_HOST"].rsplit(":", 1)
    connection = http.client.HTTPConnection(host, int(port), timeout=60)
    try:
        connection.request(method, f"/api/blobs/{DIGEST}", body=body)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def _hang_up_mid_body(env: dict[str, str], length: int) -> None:
    host, port = env["OLLAMA_HOST"].rsplit(":", 1)
    head = (
        f"POST /api/blobs/{DIGEST} HTTP/1.1\r\nHost: {env['OLLAMA_HOST']}\r\nContent-Length: {length}\r\n\r\n"
    )
    with socket.create_connection((host, int(port))) as s:
        s.sendall(head.encode() + GOOD + b"E" * (length // 2))


def test_blob_uploads_that_do_not_match_their_digest_store_nothing(
    server: tuple[ServeProcess, dict[str, str]], tmp_path: Path
) -> None:
    process, env = server
    for body in (GOOD + b"EVIL" * 1000, GOOD + b"E" * (6 << 20), GOOD[:5], b""):
        status, answer = _request(env, "POST", body)
        assert status == 400, (len(body), status, answer)
        assert b"digest mismatch" in answer
        assert _request(env, "HEAD")[0] == 404
    _hang_up_mid_body(env, 8 << 20)
    assert _request(env, "HEAD")[0] == 404
    assert _request(env, "POST", GOOD)[0] == 201
    assert _request(env, "POST", GOOD + b"EVIL")[0] == 200  # present: nothing is read or replaced
    blob = tmp_path / "store" / "blobs" / "sha256" / DIGEST[7:9] / DIGEST[7:]
    assert blob.read_bytes() == GOOD
    assert process.proc.poll() is None
    verified = cli(env, "verify")
    assert verified.returncode == 0, verified
