"""Clients that leave mid-stream, against ``ollama-py serve`` as a subprocess with a real runner:
the official ``ollama``, ``openai`` and ``anthropic`` clients stop reading after a few chunks (and a raw socket
resets the connection) on every streaming inference route; the server logs no traceback, frees the
runner's slot and answers the next request."""

from __future__ import annotations

import json
import socket
import struct
from collections.abc import Iterator
from pathlib import Path

import anthropic
import ollama
import openai
import pytest

from registry.store.library import Library
from tests.support.gguf_models import add_gguf_model
from tests.support.serve_process import ServeProcess, cli_env, free_port

LONG = 3000
USER = [{"role": "user", "content": "the"}]


@pytest.fixture
def served(tmp_path: Path, tiny_gguf: Path) -> Iterator[tuple[ServeProcess, str]]:
    library = Library.open(tmp_path / "store")
    try:
        add_gguf_model(library, "tiny", tiny_gguf)
    finally:
        library.close()
    port = free_port()
    server = ServeProcess(cli_env(tmp_path / "store", tmp_path, OLLAMA_HOST=f"127.0.0.1:{port}"))
    try:
        assert server.listening, server.text()
        yield server, f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def _reset_mid_stream(url: str, path: str, body: dict[str, object]) -> None:
    host, port = url.removeprefix("http://").split(":")
    data = json.dumps(body).encode()
    with socket.create_connection((host, int(port))) as sock:
        head = f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        sock.sendall(f"{head}Content-Length: {len(data)}\r\n\r\n".encode() + data)
        sock.recv(200)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def test_leaving_mid_stream_logs_no_traceback(served: tuple[ServeProcess, str]) -> None:
    server, url = served
    oc = ollama.Client(host=url)
    oa = openai.OpenAI(base_url=url + "/v1", api_key="ollama", max_retries=0)
    many = {"num_predict": LONG}
    for stream in (
        oc.generate(model="tiny", prompt="the", stream=True, options=many),
        oc.chat(model="tiny", messages=USER, stream=True, options=many),
    ):
        for _, _chunk in zip(range(3), stream, strict=False):
            pass
        stream.close()
    for compat in (
        oa.chat.completions.create(model="tiny", messages=USER, stream=True, max_tokens=LONG),  # type: ignore[arg-type]
        oa.completions.create(model="tiny", prompt="the", stream=True, max_tokens=LONG),
        oa.responses.create(model="tiny", input="the", stream=True, max_output_tokens=LONG),
        anthropic.Anthropic(base_url=url, api_key="ollama", max_retries=0).messages.create(
            model="tiny",
            max_tokens=LONG,
            messages=USER,
            stream=True,  # type: ignore[arg-type]
        ),
    ):
        for _, _event in zip(range(3), compat, strict=False):
            pass
        compat.close()
    _reset_mid_stream(url, "/api/chat", {"model": "tiny", "messages": USER, "options": many})
    _reset_mid_stream(
        url, "/v1/messages", {"model": "tiny", "messages": USER, "max_tokens": LONG, "stream": True}
    )
    _reset_mid_stream(
        url, "/api/generate", {"model": "tiny", "prompt": "x", "stream": False, "options": many}
    )
    assert oc.generate(model="tiny", prompt="a", options={"num_predict": 2}).done
    assert "Traceback" not in server.text(), server.text()
