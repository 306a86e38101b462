"""/api/generate, /api/chat, /api/embed(dings), /api/ps against real runners (tiny GGUF)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from registry.store.library import Library
from tests.support.gguf_models import add_gguf_model

METRICS = (
    "total_duration",
    "load_duration",
    "prompt_eval_count",
    "prompt_eval_duration",
    "eval_count",
    "eval_duration",
)


async def _lines(resp: Any) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (await resp.text()).splitlines() if line.strip()]


async def test_generate_streams_ndjson_with_final_metrics(models: Library, make_client: Any) -> None:
    client = await make_client(models)
    resp = await client.post(
        "/api/generate", json={"model": "tiny", "prompt": "the", "options": {"num_predict": 8}}
    )
    assert resp.status == 200 and resp.headers["Content-Type"].startswith("application/x-ndjson")
    events = await _lines(resp)
    assert all(e["done"] is False and isinstance(e["response"], str) for e in events[:-1])
    final = events[-1]
    assert final["done"] is True and final["done_reason"] in ("stop", "length") and final["response"] == ""
    assert final["model"] == "tiny" and final["created_at"].endswith("Z")
    assert all(isinstance(final[k], int) for k in METRICS)
    assert isinstance(final["context"], list) and final["context"]


async def test_generate_stream_false_is_one_object(models: Library, make_client: Any) -> None:
    client = await make_client(models)
    streamed = await _lines(
        await client.post(
            "/api/generate", json={"model": "tiny", "prompt": "the", "options": {"num_predict": 8, "seed": 5}}
        )
    )
    resp = await client.post(
        "/api/generate",
        json={"model": "tiny", "prompt": "the", "stream": False, "options": {"num_predict": 8, "seed": 5}},
    )
    body = await resp.json()
    assert body["done"] is True and body["response"] == "".join(e["response"] for e in streamed)
    assert body["eval_count"] == streamed[-1]["eval_count"]


async def test_empty_prompt_loads_and_keep_alive_zero_unloads(models: Library, make_client: Any) -> None:
    client = await make_client(models)
    body = await (await client.post("/api/generate", json={"model": "tiny", "stream": False})).json()
    assert body["done_reason"] == "load" and body["response"] == ""
    assert [m["name"] for m in (await (await client.get("/api/ps")).json())["models"]] == ["tiny:latest"]
    body = await (
        await client.post("/api/generate", json={"model": "tiny", "keep_alive": 0, "stream": False})
    ).json()
    assert body["done_reason"] == "unload"
    assert (await (await client.get("/api/ps")).json())["models"] == []


async def test_errors_match_ollama(models: Library, make_client: Any) -> None:
    client = await make_client(models)
    resp = await client.post("/api/generate", json={"model": "missing", "prompt": "x"})
    assert resp.status == 404 and (await resp.json()) == {"error": "model 'missing' not found"}
    resp = await client.post("/api/generate", data=b"{not json")
    assert resp.status == 400 and "error" in await resp.json()
    resp = await client.post("/api/generate", json={"prompt": "x"})
    assert resp.status == 400 and (await resp.json())["error"] == "model is required"
    resp = await client.post(
        "/api/generate", json={"model": "tiny", "prompt": "x", "raw": True, "system": "s"}
    )
    assert (await resp.json())["error"] == "raw mode does not support template, system, or context"
    resp = await client.post(
        "/api/generate", json={"model": "tiny", "prompt": "x", "options": {"temperature": "hot"}}
    )
    assert resp.status == 400 and "temperature" in (await resp.json())["error"]
    resp = await client.post("/api/generate", json={"model": "tiny", "prompt": "x", "format": "yaml"})
    assert resp.status == 400
    resp = await client.post("/api/generate", json={"model": "tiny", "prompt": "x", "images": ["aGk="]})
    assert resp.status == 400 and "does not support images" in (await resp.json())["error"]
    resp = await client.post("/api/chat", json={"model": "tiny", "messages": "hello"})
    assert resp.status == 400
    resp = await client.post(
        "/api/chat",
        json={"model": "tiny", "messages": [{"role": "user", "content": "x", "images": ["aGk="]}]},
    )
    assert resp.status == 400 and "does not support images" in (await resp.json())["error"]


async def test_format_schema_gives_valid_json(models: Library, make_client: Any) -> None:
    client = await make_client(models)
    schema = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}
    body = await (
        await client.post(
            "/api/generate",
            json={
                "model": "tiny",
                "prompt": "x",
                "format": schema,
                "stream": False,
                "options": {"num_predict": 300},
            },
        )
    ).json()
    assert isinstance(json.loads(body["response"])["ok"], bool)


async def test_chat_streams_messages_and_tool_calls(models: Library, make_client: Any) -> None:
    client = await make_client(models)
    events = await _lines(
        await client.post(
            "/api/chat",
            json={
                "model": "tiny",
                "messages": [{"role": "user", "content": "hi"}],
                "options": {"num_predict": 6},
            },
        )
    )
    assert all(e["message"]["role"] == "assistant" for e in events)
    assert events[-1]["done"] is True and "context" not in events[-1]
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]
    schema = {
        "type": "object",
        "properties": {
            "name": {"enum": ["get_weather"]},
            "arguments": {
                "type": "object",
                "properties": {"city": {"enum": ["Paris"]}},
                "required": ["city"],
            },
        },
        "required": ["name", "arguments"],
    }
    body = await (
        await client.post(
            "/api/chat",
            json={
                "model": "tiny-tools",
                "messages": [{"role": "user", "content": "weather?"}],
                "tools": tools,
                "format": schema,
                "stream": False,
                "options": {"num_predict": 400},
            },
        )
    ).json()
    call = body["message"]["tool_calls"][0]
    assert call["function"]["name"] == "get_weather" and call["function"]["arguments"] == {"city": "Paris"}
    assert call["id"].startswith("call_")


async def test_chat_with_go_template_and_tool_history(models: Library, make_client: Any) -> None:
    client = await make_client(models)
    messages = [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "hi"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [{"function": {"name": "f", "arguments": {"a": 1}}}],
        },
        {"role": "tool", "content": "42", "tool_name": "f"},
    ]
    resp = await client.post(
        "/api/chat",
        json={"model": "tiny-go", "messages": messages, "stream": False, "options": {"num_predict": 4}},
    )
    assert resp.status == 200 and (await resp.json())["done"] is True


async def test_embed_normalises_and_truncates_dimensions(models: Library, make_client: Any) -> None:
    client = await make_client(models)
    body = await (await client.post("/api/embed", json={"model": "tiny", "input": ["the", "a word"]})).json()
    assert len(body["embeddings"]) == 2 and body["prompt_eval_count"] >= 2
    for vec in body["embeddings"]:
        assert abs(sum(v * v for v in vec) - 1.0) < 1e-4
    body = await (
        await client.post("/api/embed", json={"model": "tiny", "input": "the", "dimensions": 8})
    ).json()
    assert len(body["embeddings"][0]) == 8 and abs(sum(v * v for v in body["embeddings"][0]) - 1.0) < 1e-4
    body = await (await client.post("/api/embed", json={"model": "tiny", "input": []})).json()
    assert body["embeddings"] == []
    legacy = await (await client.post("/api/embeddings", json={"model": "tiny", "prompt": "the"})).json()
    assert len(legacy["embedding"]) == 64
    resp = await client.post("/api/embed", json={"model": "tiny", "input": 5})
    assert resp.status == 400


async def test_unrunnable_models_fail_clearly_and_server_stays_up(
    models: Library, make_client: Any, tmp_path: Path, tiny_gguf: Path
) -> None:
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"GGUF" + b"\xff" * 200)
    add_gguf_model(models, "broken", bad)
    add_gguf_model(
        models,
        "tensors",
        bad,
        with_model_layer=False,
        extra_layers=[("application/vnd.ollama.image.tensor", b"weights")],
    )
    add_gguf_model(models, "badtemplate", tiny_gguf, template="{{ if .Prompt }}unterminated")
    client = await make_client(models)
    resp = await client.post("/api/generate", json={"model": "broken", "prompt": "x"})
    assert resp.status == 500 and "unable to load model" in (await resp.json())["error"]
    resp = await client.post("/api/generate", json={"model": "tensors", "prompt": "x"})
    assert resp.status == 400 and "no GGUF weights" in (await resp.json())["error"]
    resp = await client.post("/api/generate", json={"model": "badtemplate", "prompt": "x"})
    assert resp.status == 400 and "template" in (await resp.json())["error"]
    resp = await client.post(
        "/api/generate", json={"model": "tiny", "prompt": "x", "stream": False, "options": {"num_predict": 2}}
    )
    assert resp.status == 200


async def test_cors_allows_local_origins_only(models: Library, make_client: Any) -> None:
    client = await make_client(models, origins=("https://example.org",))
    resp = await client.options(
        "/api/tags", headers={"Origin": "http://localhost:3000", "Access-Control-Request-Method": "POST"}
    )
    assert resp.status == 204 and resp.headers["Access-Control-Allow-Origin"] == "http://localhost:3000"
    resp = await client.get("/api/tags", headers={"Origin": "https://example.org"})
    assert resp.status == 200 and resp.headers["Access-Control-Allow-Origin"] == "https://example.org"
    resp = await client.get("/api/tags", headers={"Origin": "https://evil.example"})
    assert resp.status == 403
