"""/api/blobs and /api/create through a real aiohttp server on loopback, driven by a real client."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import ClientSession
from aiohttp.test_utils import TestServer

from registry.config import Settings
from registry.modelserver.api.app import build_app
from registry.oci import mediatypes as mt
from registry.oci.name import ModelName
from registry.store.library import Library
from tests.support.store_snapshot import snapshot


@pytest.fixture
async def server(library: Library, tmp_path: Path) -> AsyncIterator[TestServer]:
    app = build_app(Settings(models_dir=tmp_path / "store"), library)
    async with TestServer(app, host="127.0.0.1") as srv:
        yield srv


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


async def test_blob_upload_statuses(server: TestServer, library: Library, tiny_gguf: Path) -> None:
    data = tiny_gguf.read_bytes()
    url = server.make_url(f"/api/blobs/{digest_of(data)}")
    async with ClientSession() as http:
        async with http.head(url) as r:
            assert r.status == 404
        async with http.post(url, data=data) as r:
            assert r.status == 201
        async with http.head(url) as r:
            assert r.status == 200
        async with http.post(url, data=data) as r:
            assert r.status == 200
        wrong = server.make_url(f"/api/blobs/{digest_of(b'other')}")
        before = snapshot(library)
        async with http.post(wrong, data=b"not the promised bytes") as r:
            assert r.status == 400
            assert "digest mismatch" in (await r.json())["error"]
        assert snapshot(library) == before
        async with http.post(server.make_url("/api/blobs/sha256:nothex"), data=b"x") as r:
            assert r.status == 400
            assert "invalid digest" in (await r.json())["error"]


async def test_create_streams_ndjson_and_show_reports(
    server: TestServer, library: Library, tiny_gguf: Path
) -> None:
    data = tiny_gguf.read_bytes()
    digest = digest_of(data)
    body = {
        "model": "tiny:api",
        "files": {"tiny.gguf": digest},
        "system": "You are terse.",
        "parameters": {"temperature": 0.25, "stop": ["<|end|>"]},
        "template": "{{ .Tools }}{{ .Prompt }}",
    }
    async with ClientSession() as http:
        async with http.post(server.make_url(f"/api/blobs/{digest}"), data=data) as r:
            assert r.status == 201
        async with http.post(server.make_url("/api/create"), json=body) as r:
            assert r.status == 200
            assert r.headers["Content-Type"] == "application/x-ndjson"
            lines = [json.loads(line) for line in (await r.text()).splitlines()]
        assert lines[0] == {"status": "parsing GGUF"}
        assert lines[1] == {"status": f"using existing layer {digest}"}
        assert [x["status"] for x in lines[-2:]] == ["writing manifest", "success"]
        async with http.post(server.make_url("/api/show"), json={"model": "tiny:api"}) as r:
            show = await r.json()
    assert show["details"]["family"] == "llama"
    assert show["details"]["quantization_level"] == "F32"
    assert show["capabilities"] == ["completion", "tools"]
    assert show["model_info"]["llama.context_length"] == 256
    assert show["system"] == "You are terse."
    assert 'PARAMETER stop "<|end|>"' in show["modelfile"] or "PARAMETER stop <|end|>" in show["modelfile"]


async def test_create_stream_false_and_errors(server: TestServer, library: Library, tiny_gguf: Path) -> None:
    async with ClientSession() as http:
        bad = {"model": "x", "files": {"m.gguf": digest_of(b"absent")}, "stream": False}
        async with http.post(server.make_url("/api/create"), json=bad) as r:
            assert r.status == 404
            assert "not found" in (await r.json())["error"]
        async with http.post(server.make_url("/api/create"), json={"model": "x"}) as r:
            assert r.status == 400
            assert (await r.json())["error"] == "neither 'from' or 'files' was specified"
        async with http.post(server.make_url("/api/create"), json={"model": "bad name!", "from": "y"}) as r:
            assert r.status == 400
        junk = b"GGUF but not really"
        async with http.post(server.make_url(f"/api/blobs/{digest_of(junk)}"), data=junk) as r:
            assert r.status == 201
        body = {"model": "x", "files": {"junk.gguf": digest_of(junk)}}
        async with http.post(server.make_url("/api/create"), json=body) as r:
            lines = [json.loads(line) for line in (await r.text()).splitlines()]
        assert lines[0] == {"status": "parsing GGUF"}
        assert lines[-1]["error"].startswith("junk.gguf: ")
        data = tiny_gguf.read_bytes()
        async with http.post(server.make_url(f"/api/blobs/{digest_of(data)}"), data=data) as r:
            assert r.status == 201
        good = {"model": "quiet", "files": {"t.gguf": digest_of(data)}, "stream": False}
        async with http.post(server.make_url("/api/create"), json=good) as r:
            assert r.status == 200
            assert await r.json() == {"status": "success"}
    assert [r.name.display_shortest for r in library.list_models()] == ["quiet:latest"]
    assert library.find_model(ModelName.parse("x")) is None


@pytest.mark.slow
async def test_client_leaving_mid_quantize_undoes_the_create(
    server: TestServer, library: Library, tmp_path: Path
) -> None:
    from tests.support.tiny_gguf import write_tiny_gguf

    big = write_tiny_gguf(
        tmp_path / "big.gguf", embedding_length=512, feed_forward_length=16384, block_count=2
    )
    digest, _ = library.add_file(big)
    before = snapshot(library)
    body = {"model": "left", "files": {"big.gguf": str(digest)}, "quantize": "q8_0", "system": "unused"}
    async with ClientSession() as http:
        response = await http.post(server.make_url("/api/create"), json=body)
        first = await response.content.readline()
        assert json.loads(first) == {"status": "parsing GGUF"}
        response.close()  # the client goes away while the quantizer works
    for _ in range(400):
        await asyncio.sleep(0.05)
        if not any(library.layout.tmp_dir.glob("quantize-*")) and snapshot(library) == before:
            break
    await asyncio.sleep(0.5)
    assert not any(library.layout.tmp_dir.glob("quantize-*"))
    assert library.find_model(ModelName.parse("left")) is None
    assert snapshot(library) == before
    assert library.verify().ok


async def test_create_from_a_missing_model_pulls_it_first(
    library: Library, tmp_path: Path, tiny_gguf: Path
) -> None:
    from registry.modelserver.api.keys import TRANSFER_OPTIONS
    from registry.remote.options import TransferOptions
    from tests.support.upstream import Upstream

    upstream = await Upstream().start()
    try:
        upstream.add_model("library/base", "latest", [(mt.OLLAMA_MODEL, tiny_gguf.read_bytes())])
        app = build_app(Settings(models_dir=tmp_path / "store"), library)
        app[TRANSFER_OPTIONS] = TransferOptions(insecure=True)
        base = f"{upstream.host}/library/base:latest"
        async with TestServer(app, host="127.0.0.1") as srv, ClientSession() as http:
            body = {"model": "derived", "from": base, "system": "derived system"}
            async with http.post(srv.make_url("/api/create"), json=body) as r:
                lines = [json.loads(line)["status"] for line in (await r.text()).splitlines()]
    finally:
        await upstream.stop()
    assert lines[0] == "pulling manifest"
    assert lines.count("success") == 1 and lines[-2:] == ["writing manifest", "success"]
    derived = library.model_info(ModelName.parse("derived"))
    assert derived.system == "derived system"
    assert derived.parent_model == ModelName.parse(base).display_shortest
    assert library.find_model(ModelName.parse(base)) is not None
