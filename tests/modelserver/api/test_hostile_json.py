"""Issue 10, items 10 and 16 (model server): hostile JSON and malformed requests are 400s with a
message on every JSON route, never a 500; clients that go away or send malformed HTTP leave no
traceback in the log. Real server, real runners (tiny GGUF)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from registry.modelserver.api import keys
from registry.store.library import Library

#: Every route of the model server that reads a JSON body.
JSON_ROUTES = (
    ("POST", "/api/generate"),
    ("POST", "/api/chat"),
    ("POST", "/api/embed"),
    ("POST", "/api/embeddings"),
    ("POST", "/api/show"),
    ("POST", "/api/copy"),
    ("DELETE", "/api/delete"),
    ("POST", "/api/create"),
    ("POST", "/api/pull"),
    ("POST", "/api/push"),
    ("POST", "/v1/chat/completions"),
    ("POST", "/v1/completions"),
    ("POST", "/v1/embeddings"),
)


def _error(body: Any) -> str:
    error = body["error"]
    return str(error["message"] if isinstance(error, dict) else error)


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize(("method", "path"), JSON_ROUTES)
async def test_deeply_nested_json_is_400_on_every_route(
    models: Library, make_client: Any, method: str, path: str
) -> None:
    client = await make_client(models)
    for body in (
        _nested(100_000),
        '{"model": "tiny", "x": ' + _nested(1000) + "}",
        '{"model": "tiny", "options": ' + '{"a":' * 1000 + "1" + "}" * 1000 + "}",
    ):
        resp = await client.request(method, path, data=body, headers={"Content-Type": "application/json"})
        assert resp.status == 400, (path, await resp.text())
        assert "nested more than 100 levels" in _error(await resp.json())


@pytest.mark.parametrize(("method", "path"), JSON_ROUTES)
async def test_invalid_json_values_are_400_on_every_route(
    models: Library, make_client: Any, method: str, path: str
) -> None:
    client = await make_client(models)
    for body in (
        '{"model": "tiny", "x": NaN}',
        '{"model": "tiny", "x": 1e999}',
        '{"model": "tiny", "x": ' + "9" * 5000 + "}",
        b'{"model": "\xff"}',
        "[1, 2]",
        "",
    ):
        resp = await client.request(method, path, data=body, headers={"Content-Type": "application/json"})
        assert resp.status == 400, (path, body[:30], await resp.text())


async def test_a_deep_format_schema_is_400(models: Library, make_client: Any) -> None:
    client = await make_client(models)
    schema = '{"type": "object", "properties": {"a": ' * 500 + '{"type": "string"}' + "}}" * 500
    messages = '[{"role": "user", "content": "x"}]'
    for path, body in (
        ("/api/generate", '{"model": "tiny", "prompt": "x", "format": SCHEMA}'),
        ("/api/chat", '{"model": "tiny", "messages": MESSAGES, "format": SCHEMA}'),
        (
            "/v1/chat/completions",
            '{"model": "tiny", "messages": MESSAGES, '
            '"response_format": {"type": "json_schema", "json_schema": {"schema": SCHEMA}}}',
        ),
    ):
        data = body.replace("SCHEMA", schema).replace("MESSAGES", messages)
        resp = await client.post(path, data=data, headers={"Content-Type": "application/json"})
        assert resp.status == 400 and "nested" in _error(await resp.json()), path


async def test_the_deepest_allowed_format_schema_is_no_500(models: Library, make_client: Any) -> None:
    client = await make_client(models)
    schema: dict[str, Any] = {"type": "boolean"}
    for _ in range(48):  # 97 levels of JSON with the request around it
        schema = {"type": "object", "properties": {"a": schema}, "required": ["a"]}
    resp = await client.post(
        "/api/generate",
        json={
            "model": "tiny",
            "prompt": "x",
            "format": schema,
            "stream": False,
            "options": {"num_predict": 8},
        },
    )
    assert resp.status in (200, 400), await resp.text()


@pytest.mark.parametrize(
    "fmt", [{"enum": []}, {"type": "object", "properties": {"a": {"enum": []}}}, {"anyOf": []}, {"type": "x"}]
)
async def test_unsatisfiable_format_schemas_are_400(models: Library, make_client: Any, fmt: Any) -> None:
    client = await make_client(models)
    resp = await client.post("/api/generate", json={"model": "tiny", "prompt": "x", "format": fmt})
    body = await resp.json()
    assert resp.status == 400 and "format" in body["error"], body


@pytest.mark.parametrize(
    ("path", "body", "expected"),
    [
        ("/api/chat", {"tools": [1, 2]}, "invalid tool 0"),
        ("/api/chat", {"tools": {"a": 1}}, "tools must be an array"),
        ("/api/chat", {"tools": [{"function": "f"}]}, "invalid tool 0"),
        ("/api/chat", {"messages": [{"role": "user"}]}, "content is required"),
        ("/api/chat", {"messages": [{"content": "x"}]}, "role must be a non-empty string"),
        ("/api/chat", {"messages": [{"role": "user", "content": 5}]}, "content must be a string"),
        ("/api/chat", {"messages": [{"role": "assistant", "tool_calls": [1]}]}, "tool call"),
        ("/api/chat", {"messages": [{"role": "user", "content": "x", "images": "abc"}]}, "images"),
        ("/v1/chat/completions", {"tools": [1, 2]}, "invalid tool 0"),
        ("/v1/chat/completions", {"messages": [{"role": "user"}]}, "invalid message content type"),
        ("/v1/chat/completions", {"messages": [{"role": "user", "content": [1]}]}, "invalid message format"),
        (
            "/v1/chat/completions",
            {"messages": [{"role": "assistant", "tool_calls": [{}]}]},
            "invalid tool call",
        ),
        (
            "/v1/chat/completions",
            {
                "messages": [
                    {"role": "assistant", "tool_calls": [{"function": {"name": "f", "arguments": "[1]"}}]}
                ]
            },
            "arguments",
        ),
        ("/v1/chat/completions", {"stream": True, "stream_options": [1]}, "stream_options"),
        ("/v1/chat/completions", {"response_format": "json"}, "response_format"),
        ("/v1/embeddings", {"input": "x", "dimensions": "big"}, "dimensions"),
    ],
)
async def test_malformed_chat_fields_are_400_with_a_message(
    models: Library, make_client: Any, path: str, body: dict[str, Any], expected: str
) -> None:
    client = await make_client(models)
    full = {"model": "tiny", "messages": [{"role": "user", "content": "x"}], **body}
    resp = await client.post(path, json=full)
    assert resp.status == 400 and expected in _error(await resp.json()), await resp.text()


async def test_what_real_clients_send_still_works(models: Library, make_client: Any) -> None:
    client = await make_client(models)
    call = {"function": {"name": "f", "arguments": {"a": 1}}}
    ollama = [
        {"role": "user", "content": "x"},
        {"role": "assistant", "tool_calls": [call]},  # ollama-python leaves content out
        {"role": "tool", "content": "42", "tool_name": "f"},
    ]
    tools = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]
    options = {"num_predict": 2, "num_gpu": None}  # LangChain sends nulls
    resp = await client.post(
        "/api/chat",
        json={"model": "tiny-tools", "messages": ollama, "tools": tools, "stream": False, "options": options},
    )
    assert resp.status == 200, await resp.text()
    openai = [
        {"role": "user", "content": [{"type": "text", "text": "x"}]},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "1", "type": "function", "function": {"name": "f", "arguments": '{"a": 1}'}}
            ],
        },
        {"role": "tool", "content": "42", "tool_call_id": "1"},
    ]
    resp = await client.post(
        "/v1/chat/completions",
        json={"model": "tiny-tools", "messages": openai, "tools": tools, "max_tokens": 2},
    )
    assert resp.status == 200, await resp.text()


async def test_client_disconnects_mid_stream_log_no_traceback(
    models: Library, make_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    client = await make_client(models)
    host, port = client.server.host, client.server.port
    for path, body in (
        ("/api/generate", {"model": "tiny", "prompt": "the", "options": {"num_predict": 500}}),
        (
            "/api/chat",
            {
                "model": "tiny",
                "messages": [{"role": "user", "content": "x"}],
                "options": {"num_predict": 500},
            },
        ),
        (
            "/v1/chat/completions",
            {"model": "tiny", "stream": True, "messages": [{"role": "user", "content": "x"}]},
        ),
        ("/v1/completions", {"model": "tiny", "stream": True, "prompt": "the", "max_tokens": 500}),
    ):
        reader, writer = await asyncio.open_connection(host, port)
        data = json.dumps(body).encode()
        head = f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n"
        writer.write(head.encode() + data)
        await reader.readuntil(b"\r\n\r\n")
        await reader.read(10)  # the stream has begun
        writer.transport.abort()
    scheduler = client.server.app[keys.SCHEDULER]
    deadline = asyncio.get_running_loop().time() + 60
    while scheduler.loaded()[0].refcount:  # each stream ends at its next write
        assert asyncio.get_running_loop().time() < deadline, "a stream never noticed its client left"
        await asyncio.sleep(0.05)
    resp = await client.post(
        "/api/generate", json={"model": "tiny", "prompt": "a", "stream": False, "options": {"num_predict": 2}}
    )
    assert resp.status == 200
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]


async def test_malformed_http_logs_one_line_without_traceback(
    models: Library, make_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    client = await make_client(models)
    host, port = client.server.host, client.server.port
    for raw in (
        b"GET /" + b"a" * 20_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /api/version HTTP/1.1\r\nHost: x\r\nX-Long: " + b"a" * 20_000 + b"\r\n\r\n",
        b"GET /api/version HTTP/1.1\r\nHo st: x\r\n\r\n",
    ):
        caplog.clear()
        with caplog.at_level(logging.INFO):
            reader, writer = await asyncio.open_connection(host, port)
            writer.write(raw)
            status = await reader.readline()
            writer.close()
        assert status.split()[1] == b"400"
        assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert (await client.get("/api/version")).status == 200


async def test_a_stream_whose_client_left_ends_quietly(caplog: pytest.LogCaptureFixture) -> None:
    # the exact path of a disconnect noticed between two events (completion_events then returns
    # and the streamer finishes): every later write fails, and that is not an error
    from aiohttp import web
    from aiohttp.test_utils import TestClient, TestServer

    from registry.modelserver.api.errors import error_middleware
    from registry.modelserver.api.streaming import respond_ndjson

    async def handler(request: web.Request) -> web.StreamResponse:
        async def events() -> AsyncIterator[dict[str, Any]]:
            yield {"response": "a", "done": False}
            assert request.transport is not None
            request.transport.abort()  # the client is gone (no await: the streamer goes on at once)

        return await respond_ndjson(request, events())

    app = web.Application(middlewares=[error_middleware])
    app.router.add_post("/stream", handler)
    async with TestClient(TestServer(app)) as client:
        with contextlib.suppress(aiohttp.ClientError):
            await (await client.post("/stream")).read()
        await asyncio.sleep(0.1)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]


@pytest.mark.parametrize(
    "fmt",
    [
        {"type": "string", "minLength": 10**9},
        {"type": "array", "items": {"type": "integer"}, "maxItems": 10**12},
        {"type": "string", "pattern": "^(a{1000}){1000}$"},
        {"type": "string", "pattern": "^a{1000000000}$"},
    ],
)
async def test_formats_that_would_write_huge_grammars_are_400(
    models: Library, make_client: Any, fmt: Any
) -> None:
    client = await make_client(models)
    resp = await client.post("/api/generate", json={"model": "tiny", "prompt": "x", "format": fmt})
    body = await resp.json()
    assert resp.status == 400 and "format" in body["error"], body
