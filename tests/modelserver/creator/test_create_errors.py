"""Bad input to create: a clear error naming the file, and nothing half-created in the store."""

from __future__ import annotations

from pathlib import Path

import pytest

from registry.errors import (
    BlobNotFound,
    InvalidInput,
    InvalidWeights,
    ModelNotFound,
    OllamaPyError,
    Unsupported,
)
from registry.modelserver.creator import CreateRequest, create_model
from registry.oci.digest import sha256_of
from registry.oci.name import ModelName
from registry.store.library import Library
from tests.support.ollama_gguf import write_synthetic
from tests.support.ollama_gguf_moe import write_ollama_gptoss
from tests.support.store_snapshot import snapshot
from tests.support.tiny_gguf import write_tiny_gguf


def attempt(library: Library, request: CreateRequest, name: str = "broken") -> OllamaPyError:
    with pytest.raises(OllamaPyError) as info:
        list(create_model(library, ModelName.parse(name), request))
    return info.value


def upload(library: Library, name: str, data: bytes) -> CreateRequest:
    digest, _ = library.add_bytes(data)
    return CreateRequest(files={name: digest})


def assert_only_upload_left(
    library: Library, before: tuple[list[str], set[str]], request: CreateRequest
) -> None:
    models, blobs = snapshot(library)
    uploaded = {d.filename for d in request.files.values()} | {d.hex for d in request.files.values()}
    assert models == before[0]
    assert {b for b in blobs - before[1] if b not in uploaded} == set()
    report = library.prune(dry_run=True, grace_seconds=0)
    assert {str(d) for d in report.blobs_removed} >= {str(d) for d in request.files.values()}


def test_not_a_gguf(library: Library) -> None:
    before = snapshot(library)
    request = upload(library, "weights.gguf", b"this is not a model at all")
    err = attempt(library, request)
    assert isinstance(err, InvalidWeights)
    assert str(err) == "weights.gguf: not a GGUF file (it does not start with the GGUF magic)"
    assert_only_upload_left(library, before, request)


def test_truncated_gguf(library: Library, tiny_gguf: Path) -> None:
    before = snapshot(library)
    request = upload(library, "cut.gguf", tiny_gguf.read_bytes()[:-1000])
    err = attempt(library, request)
    assert isinstance(err, InvalidWeights)
    assert str(err).startswith("cut.gguf: truncated GGUF file")
    assert_only_upload_left(library, before, request)


def test_truncated_inside_header(library: Library, tiny_gguf: Path) -> None:
    request = upload(library, "head.gguf", tiny_gguf.read_bytes()[:300])
    assert "head.gguf: truncated GGUF file" in str(attempt(library, request))


def test_unknown_architecture(library: Library, tmp_path: Path) -> None:
    before = snapshot(library)
    path = write_tiny_gguf(tmp_path / "alien.gguf", arch="notarealarch")
    digest, _ = library.add_file(path)
    request = CreateRequest(files={"alien.gguf": digest}, system="never stored")
    err = attempt(library, request)
    assert str(err) == "alien.gguf: unknown model architecture 'notarealarch': llama.cpp cannot run it"
    assert not library.has_blob(sha256_of(b"never stored"))
    assert_only_upload_left(library, before, request)


def test_ollama_architecture_llama_cpp_lacks_is_refused_with_the_reason(
    library: Library, tmp_path: Path
) -> None:
    before = snapshot(library)
    path = write_synthetic(
        tmp_path / "vision.gguf", "mllama", {"mllama.block_count": 1}, {"token_embd.weight": (8, 4)}
    )
    digest, _ = library.add_file(path)
    request = CreateRequest(files={"vision.gguf": digest})
    err = attempt(library, request)
    assert isinstance(err, Unsupported)
    assert str(err).startswith("vision.gguf: its architecture mllama (Llama 3.2 Vision")
    assert "use a llama.cpp-converted vision model" in str(err)
    assert_only_upload_left(library, before, request)


def test_ollama_converted_architecture_is_created(library: Library, tmp_path: Path) -> None:
    """gpt-oss as Ollama names it (``gptoss``) is not a llama.cpp architecture, but the
    compatibility layer translates it: create accepts the file."""
    path = write_ollama_gptoss(tmp_path / "gptoss.gguf")
    digest, _ = library.add_file(path)
    list(create_model(library, ModelName.parse("oss"), CreateRequest(files={"gptoss.gguf": digest})))
    assert [str(m.name.display_shortest) for m in library.list_models()] == ["oss:latest"]


def test_missing_blob(library: Library) -> None:
    request = CreateRequest(files={"m.gguf": sha256_of(b"never uploaded")})
    err = attempt(library, request)
    assert isinstance(err, BlobNotFound)
    assert library.list_models() == []


def test_missing_base_model(library: Library) -> None:
    err = attempt(library, CreateRequest(from_="nosuchmodel", system="x"))
    assert isinstance(err, ModelNotFound)
    assert str(err) == "model 'nosuchmodel:latest' not found"
    assert not library.has_blob(sha256_of(b"x"))


def test_safetensors_unsupported(library: Library) -> None:
    request = upload(library, "model.safetensors", b"{}")
    assert isinstance(attempt(library, request), Unsupported)


def test_quantize_only_from_float_types(library: Library, tmp_path: Path) -> None:
    path = write_tiny_gguf(tmp_path / "q8.gguf", file_type="Q8_0")
    digest, _ = library.add_file(path)
    before = snapshot(library)
    err = attempt(library, CreateRequest(files={"q8.gguf": digest}, quantize="Q4_K_M"))
    assert str(err) == "quantization is only supported for F16, BF16 and F32 models"
    assert snapshot(library) == before
    assert list(library.layout.tmp_dir.iterdir()) == []


def test_unsupported_quantize_type() -> None:
    with pytest.raises(InvalidInput, match="unsupported quantization type q2_k - supported types are Q4_K_M"):
        CreateRequest.from_json({"model": "m", "from": "x", "quantize": "q2_k"})


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"model": "m"}, "neither 'from' or 'files' was specified"),
        ({"files": {"/etc/passwd": "sha256:" + "0" * 64}}, "file path must be relative"),
        ({"files": {"../x.gguf": "sha256:" + "0" * 64}}, "file path must be relative"),
        ({"files": {"x.gguf": ""}}, "invalid digest format"),
        ({"files": {"x.gguf": "md5:abc"}}, "invalid digest format"),
        ({"from": "x", "parameters": {"temprature": 1}}, "unknown parameter 'temprature'"),
        ({"from": "x", "parameters": {"num_ctx": "big"}}, "invalid int value 'big' for parameter 'num_ctx'"),
        ({"from": "x", "messages": [{"role": "robot", "content": "hi"}]}, "message role must be one of"),
    ],
)
def test_bad_json_requests(body: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInput, match=message.replace("(", r"\(").replace(")", r"\)")):
        CreateRequest.from_json(body)


def test_abandoned_create_leaves_nothing(library: Library, tiny_gguf: Path) -> None:
    digest, _ = library.add_file(tiny_gguf)
    request = CreateRequest(files={"m.gguf": digest}, system="abandoned system prompt")
    before = snapshot(library)
    events = create_model(library, ModelName.parse("half"), request)
    for event in events:
        if event.status.startswith(("creating", "using")):
            break
    events.close()
    assert snapshot(library) == before
