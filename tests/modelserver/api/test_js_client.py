"""The official ``ollama`` JavaScript client (``tests/js``, installed by ``scripts/setup.sh --dev``),
unchanged, under Node against the real server and real runners on the tiny GGUF."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from registry.store.library import Library

JS = Path(__file__).parents[2] / "js"


def _node_client(url: str) -> dict[str, Any]:
    node = shutil.which("node")
    if node is None or not (JS / "node_modules" / "ollama").is_dir():
        pytest.fail("the JS client is not installed: run scripts/setup.sh --dev (npm ci in tests/js)")
    done = subprocess.run(
        [node, str(JS / "ollama_client.mjs"), url], capture_output=True, text=True, timeout=240, cwd=JS
    )
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout))


async def test_js_client_every_call(models: Library, make_client: Any) -> None:
    server = await make_client(models)
    out = await asyncio.to_thread(_node_client, f"http://127.0.0.1:{server.server.port}")
    assert out["version"]["version"]
    assert {m["model"] for m in out["list"]["models"]} >= {"tiny:latest", "tiny-tools:latest"}
    assert out["show"]["details"]["family"] == "llama"
    assert out["generate"]["done"] and 0 < out["generate"]["eval_count"] <= 5
    stream = out["generateStream"]
    assert stream[-1]["done"] and "".join(p["response"] for p in stream) == out["generate"]["response"]
    assert out["chatStream"][-1]["done"] and out["chatStream"][0]["message"]["role"] == "assistant"
    calls = out["toolChat"]["message"]["tool_calls"]
    assert [c["function"]["name"] for c in calls] == ["get_weather"]
    assert calls[0]["function"]["arguments"] == {"city": "Oslo"}
    assert len(out["embed"]["embeddings"]) == 2
    loaded = {m["model"] for m in out["ps"]["models"]}
    assert "tiny:latest" in loaded and loaded <= {"tiny:latest", "tiny-tools:latest"}
    assert out["missing"] == {"status": 404, "error": "model 'missing' not found"}
