"""Vision end to end on the real server: a model with a projector layer (the tiny text model plus
the tiny Gemma 3 style mmproj) takes images from the official ``ollama`` client (``images``) and
the ``openai`` client (``image_url`` data URLs); image tokens reach the model (the prompt count
grows by at least the image's tokens); bad images are 400s that say why."""

from __future__ import annotations

import asyncio
import base64
import struct
import zlib
from pathlib import Path
from typing import Any

import ollama
import openai
import pytest

from registry.modelserver.api.images import MAX_IMAGE_BYTES, place_images
from registry.oci import mediatypes as mt
from registry.store.library import Library
from tests.support.gguf_models import add_gguf_model
from tests.support.vision_gguf import IMAGE_TOKENS, write_gemma3_projector, write_png

PNG = write_png(24, 16)
PNG_B64 = base64.b64encode(PNG).decode()


@pytest.fixture
def vision(models: Library, tmp_path: Path, tiny_gguf: Path) -> Library:
    """``models`` plus ``tiny-vision``: the tiny model with a projector layer."""
    projector = write_gemma3_projector(tmp_path / "mmproj.gguf", text_embd=64)
    add_gguf_model(
        models, "tiny-vision", tiny_gguf, extra_layers=[(mt.OLLAMA_PROJECTOR, projector.read_bytes())]
    )
    return models


def _url(client: Any) -> str:
    return f"http://127.0.0.1:{client.server.port}"


def _png_header(width: int, height: int) -> bytes:
    """A PNG whose header declares ``width`` x ``height`` (the pixels are not needed to refuse it)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + struct.pack(">I", 13)
        + b"IHDR"
        + ihdr
        + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    )


async def test_show_reports_vision(vision: Library, make_client: Any) -> None:
    server = await make_client(vision)
    shown = {}
    for name in ("tiny-vision", "tiny"):
        resp = await server.post("/api/show", json={"model": name})
        shown[name] = await resp.json()
    assert "vision" in shown["tiny-vision"]["capabilities"] and "vision" not in shown["tiny"]["capabilities"]
    projector = shown["tiny-vision"]["projector_info"]
    assert projector["general.architecture"] == "clip" and projector["clip.vision.projection_dim"] == 64
    assert "projector_info" not in shown["tiny"]


async def test_ollama_client_sends_images(vision: Library, make_client: Any) -> None:
    server = await make_client(vision)
    oc = ollama.Client(host=_url(server))
    opts = {"num_predict": 3, "seed": 1}

    def calls() -> dict[str, Any]:
        question = [{"role": "user", "content": "what is this"}]
        return {
            "chat_plain": oc.chat(model="tiny-vision", messages=question, options=opts),
            "chat_image": oc.chat(
                model="tiny-vision", messages=[{**question[0], "images": [PNG]}], options=opts
            ),
            "chat_stream": list(
                oc.chat(
                    model="tiny-vision",
                    messages=[{**question[0], "images": [PNG]}],
                    stream=True,
                    options=opts,
                )
            ),
            "gen_plain": oc.generate(model="tiny-vision", prompt="what is this", options=opts),
            "gen_image": oc.generate(
                model="tiny-vision", prompt="what is this", images=[PNG, PNG], options=opts
            ),
        }

    out = await asyncio.to_thread(calls)
    assert out["chat_image"].done and out["chat_image"].message.role == "assistant"
    assert out["chat_image"].prompt_eval_count >= out["chat_plain"].prompt_eval_count + IMAGE_TOKENS
    assert out["chat_stream"][-1].done
    assert out["chat_stream"][-1].prompt_eval_count == out["chat_image"].prompt_eval_count
    assert out["gen_image"].prompt_eval_count >= out["gen_plain"].prompt_eval_count + 2 * IMAGE_TOKENS


async def test_openai_client_sends_data_urls(vision: Library, make_client: Any) -> None:
    server = await make_client(vision)
    oa = openai.OpenAI(base_url=_url(server) + "/v1", api_key="ollama", max_retries=0)
    text: Any = {"type": "text", "text": "what is this"}
    image: Any = {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG_B64}"}}

    def calls() -> dict[str, Any]:
        def ask(content: Any) -> Any:
            return oa.chat.completions.create(
                model="tiny-vision", messages=[{"role": "user", "content": content}], max_tokens=3, seed=1
            )

        out: dict[str, Any] = {"plain": ask([text]), "image": ask([text, image])}
        try:
            ask([text, {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}])
        except openai.BadRequestError as err:
            out["remote"] = (err.status_code, err.body["message"])  # type: ignore[index]
        return out

    out = await asyncio.to_thread(calls)
    assert out["image"].choices[0].message.role == "assistant"
    assert out["image"].usage.prompt_tokens >= out["plain"].usage.prompt_tokens + IMAGE_TOKENS
    assert out["remote"][0] == 400 and "nothing leaves this machine" in out["remote"][1]


async def test_bad_images_are_400_with_a_reason(vision: Library, make_client: Any) -> None:
    server = await make_client(vision)
    webp = b"RIFF\x10\x00\x00\x00WEBPVP8 " + b"\x00" * 8
    cases = {
        "not base64": ("%%% not base64 %%%", "not base64"),
        "not an image": (base64.b64encode(b"hello there").decode(), "not an image"),
        "webp": (base64.b64encode(webp).decode(), "WebP"),
        "gigapixels": (base64.b64encode(_png_header(100_000, 100_000)).decode(), "megapixels"),
        "too large": ("A" * (MAX_IMAGE_BYTES * 4 // 3 + 8), "larger than 20 MiB"),
    }
    for label, (data, reason) in cases.items():
        for path, body in (
            ("/api/generate", {"model": "tiny-vision", "prompt": "x", "images": [data]}),
            (
                "/api/chat",
                {"model": "tiny-vision", "messages": [{"role": "user", "content": "x", "images": [data]}]},
            ),
        ):
            resp = await server.post(path, json=body)
            error = (await resp.json())["error"]
            assert resp.status == 400 and reason in error, (label, path, error)
    resp = await server.post(
        "/v1/chat/completions",
        json={
            "model": "tiny-vision",
            "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": "ftp://x/y.png"}]}],
        },
    )
    assert resp.status == 400 and "data URL" in (await resp.json())["error"]["message"]


def test_images_are_placed_as_ollama_places_them() -> None:
    messages = [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "first", "images": ["a", "b"]},
        {"role": "assistant", "content": "ok"},
        {"role": "user", "content": "compare [img] with the others", "images": ["c"]},
    ]
    placed, images = place_images(messages)
    assert [m["content"] for m in placed] == [
        "be brief",
        "[img-0][img-1]first",
        "ok",
        "compare [img-2] with the others",
    ]
    assert images == [{"id": 0, "data": "a"}, {"id": 1, "data": "b"}, {"id": 2, "data": "c"}]


async def test_monolithic_ollama_gemma3_takes_images(
    library: Library, make_client: Any, tmp_path: Path
) -> None:
    """Ollama's Gemma 3 blob with its vision tower inside: the tower is extracted once into the
    store's compat cache as an mmproj and loaded with the translated text model; prune removes
    both translations when the model is gone."""
    from registry.oci.name import ModelName
    from tests.support.ollama_gguf import GEMMA3_VISION_IMAGE_TOKENS, write_ollama_gemma3_vision

    add_gguf_model(library, "gemma3-seer", write_ollama_gemma3_vision(tmp_path / "blob.gguf"))
    server = await make_client(library)
    resp = await server.post("/api/show", json={"model": "gemma3-seer"})
    assert "vision" in (await resp.json())["capabilities"]
    oc = ollama.Client(host=_url(server))
    question = {"role": "user", "content": "what is this"}

    def calls() -> tuple[Any, Any]:
        plain = oc.chat(model="gemma3-seer", messages=[question], options={"num_predict": 3, "seed": 1})
        seen = oc.chat(
            model="gemma3-seer",
            messages=[{**question, "images": [PNG]}],
            options={"num_predict": 3, "seed": 1},
        )
        return plain, seen

    plain, seen = await asyncio.to_thread(calls)
    assert seen.prompt_eval_count >= plain.prompt_eval_count + GEMMA3_VISION_IMAGE_TOKENS
    compat = sorted(p.name for p in (library.layout.compat_dir).glob("*.gguf"))
    assert len(compat) == 2 and sum(name.endswith(".mmproj.gguf") for name in compat) == 1
    await server.post("/api/generate", json={"model": "gemma3-seer", "keep_alive": 0})
    library.remove(ModelName.parse("gemma3-seer"))
    await asyncio.to_thread(library.prune, grace_seconds=0)
    assert not list(library.layout.compat_dir.glob("*.gguf"))


async def test_a_tower_that_needs_a_repack_gets_the_reason(
    library: Library, make_client: Any, tmp_path: Path
) -> None:
    """Ollama's monolithic Mistral 3 blob: its vision tower needs a tensor repack that only
    Ollama's patched llama.cpp does, so images are refused with that reason (the text runs)."""
    from tests.support.ollama_gguf import write_ollama_llama_like

    blob = write_ollama_llama_like(
        tmp_path / "mistral3.gguf",
        arch="mistral3",
        keys={"mistral3.rope.scaling.beta_fast": 32.0, "mistral3.rope.scaling.beta_slow": 1.0},
    )
    add_gguf_model(library, "mistral-seer", blob)
    server = await make_client(library)
    resp = await server.post(
        "/api/chat",
        json={"model": "mistral-seer", "messages": [{"role": "user", "content": "x", "images": [PNG_B64]}]},
    )
    error = (await resp.json())["error"]
    assert resp.status == 400 and "RoPE permutation" in error and "text-only" in error
