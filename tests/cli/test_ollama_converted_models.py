"""End to end, as a user meets it: an Ollama-converted Gemma 3 blob pushed to our registry, pulled
into another store with ``ollama-py pull``, run with ``ollama-py run`` and the official ``ollama``
client against ``ollama-py serve``; ``show`` says it runs through the compatibility layer; the blob
is never changed; prune removes the translation once the model is gone. A model made only of
safetensors tensor layers is refused at pull time before any byte is downloaded, and one of an
architecture llama.cpp lacks (Ollama's mllama) before its weights are."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import httpx
import pytest

from tests.support.ollama_gguf import write_ollama_gemma3
from tests.support.registry_process import RegistryProcess
from tests.support.registry_server import push_blob, sha
from tests.support.serve_process import ServeProcess, cli, cli_env, free_port

pytest.importorskip("llama_cpp")
pytestmark = pytest.mark.slow


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[RegistryProcess]:
    proc = RegistryProcess("--root", str(tmp_path / "registry-data"))
    try:
        yield proc
    finally:
        proc.stop()


def _blob_files(store: Path) -> list[Path]:
    return [p for p in (store / "blobs").rglob("*") if p.is_file()]


def test_pulled_ollama_converted_gemma3_runs_end_to_end(tmp_path: Path, registry: RegistryProcess) -> None:
    host = registry.url.removeprefix("http://")
    model = f"{host}/library/tiny-gemma3:latest"
    gguf = write_ollama_gemma3(tmp_path / "gemma3-ollama.gguf")
    (tmp_path / "Modelfile").write_text(f"FROM {gguf}\n")
    author = cli_env(tmp_path / "author-store", tmp_path / "home")
    created = cli(author, "create", model, "-f", str(tmp_path / "Modelfile"))
    assert created.returncode == 0, created.stderr
    pushed = cli(author, "push", "--insecure", model)
    assert pushed.returncode == 0, pushed.stderr

    store = tmp_path / "user-store"
    port = free_port()
    user = cli_env(store, tmp_path / "home", OLLAMA_HOST=f"127.0.0.1:{port}")
    pulled = cli(user, "pull", "--insecure", model)
    assert pulled.returncode == 0, pulled.stderr
    blob_hashes = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in _blob_files(store)}

    shown = cli(user, "show", model)
    assert shown.returncode == 0, shown.stderr
    assert "runs through the GGUF compatibility layer" in shown.stdout
    assert "layer_norm_rms_epsilon" in shown.stdout

    server = ServeProcess(user)
    try:
        assert server.listening, server.text()
        ran = cli(user, "run", model, "Say something", stdin="")
        assert ran.returncode == 0, ran.stderr + server.text()[-3000:]
        assert ran.stdout.strip()

        import ollama

        client = ollama.Client(host=f"http://127.0.0.1:{port}")
        reply = client.generate(model=model, prompt="hello", options={"num_predict": 8, "seed": 3})
        assert reply.done and reply.eval_count and reply.eval_count > 0
        raw_show = httpx.post(f"http://127.0.0.1:{port}/api/show", json={"model": model}).json()
        assert any("rms_epsilon" in note for note in raw_show["compatibility"])
        assert "Ollama-converted" in server.text()
    finally:
        server.stop()

    compat = list((store / "compat").glob("sha256-*.gguf"))
    assert len(compat) == 1
    assert {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in blob_hashes} == blob_hashes

    assert cli(user, "rm", model).returncode == 0
    pruned = cli(user, "prune", "--grace", "0")
    assert pruned.returncode == 0, pruned.stderr
    assert "1 unused llama.cpp translations" in pruned.stdout
    assert not list((store / "compat").glob("*.gguf"))


async def _push_model(
    registry: RegistryProcess, repo: str, config: bytes, layers: list[tuple[str, bytes]]
) -> None:
    """Push ``config`` and the (media type, bytes) ``layers`` under ``repo:latest``."""
    async with aiohttp.ClientSession() as http:
        for blob in [config, *(data for _, data in layers)]:
            await push_blob(http, registry.url, repo, blob)
        manifest = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                "digest": sha(config),
                "size": len(config),
            },
            "layers": [{"mediaType": kind, "digest": sha(data), "size": len(data)} for kind, data in layers],
        }
        async with http.put(
            f"{registry.url}/v2/{repo}/manifests/latest",
            data=json.dumps(manifest).encode(),
            headers={"Content-Type": "application/vnd.docker.distribution.manifest.v2+json"},
        ) as r:
            assert r.status == 201, await r.text()


async def test_models_of_an_architecture_llama_cpp_lacks_are_refused_before_the_weights(
    tmp_path: Path, registry: RegistryProcess
) -> None:
    """Ollama's Llama 3.2 Vision (``mllama``): pull reads the config blob's model family and refuses
    before downloading the weights, naming the model, the reason and an alternative."""
    config = json.dumps(
        {"model_format": "gguf", "model_family": "mllama", "model_families": ["mllama"]}
    ).encode()
    await _push_model(
        registry,
        "library/llama3.2-vision",
        config,
        [("application/vnd.ollama.image.model", b"\0" * (1 << 20))],
    )
    store = tmp_path / "store"
    env = cli_env(store, tmp_path / "home")
    result = cli(env, "pull", "--insecure", f"{registry.url.removeprefix('http://')}/library/llama3.2-vision")
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if "mllama" in line]
    assert lines and "llama3.2-vision" in lines[0] and "gemma3" in lines[0], result.stderr
    assert _blob_files(store) == []


async def test_tensor_layer_models_are_refused_before_any_download(
    tmp_path: Path, registry: RegistryProcess
) -> None:
    config = json.dumps({"model_format": "safetensors", "model_family": "qwen3"}).encode()
    tensors = [b"\0" * (1 << 20), b"\1" * (1 << 20)]
    await _push_model(
        registry, "library/mlx-model", config, [("application/vnd.ollama.image.tensor", t) for t in tensors]
    )
    store = tmp_path / "store"
    env = cli_env(store, tmp_path / "home")
    name = f"{registry.url.removeprefix('http://')}/library/mlx-model"
    result = cli(env, "pull", "--insecure", name)
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if "safetensors" in line]
    assert lines and "mlx-model" in lines[0] and "GGUF" in lines[0], result.stderr
    assert _blob_files(store) == []
    assert not any((store / "partials").iterdir()) if (store / "partials").exists() else True
