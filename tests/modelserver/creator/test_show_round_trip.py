"""``show --modelfile`` output parses back to the same model (same manifest digest)."""

from __future__ import annotations

from pathlib import Path

from registry.modelfile.parser import parse_modelfile
from registry.modelserver.creator import CreateRequest, create_model
from registry.modelserver.creator.local_files import find_local_files
from registry.oci.name import ModelName
from registry.store.library import Library
from registry.store.library.model_info import capabilities, modelfile_of
from tests.support.models import make_model


def test_show_modelfile_round_trip(library: Library, tiny_gguf: Path, tmp_path: Path) -> None:
    digest, _ = library.add_file(tiny_gguf)
    request = CreateRequest(
        files={"tiny.gguf": digest},
        template='{{ if .System }}<|system|>{{ .System }}{{ end }}\n<|user|>{{ .Prompt }} "q"',
        system="  leading space, and\na second line",
        parameters={"temperature": 0.7, "num_ctx": 128, "stop": ["<|end|>", '"'], "use_mmap": False},
        licenses=("MIT", 'Apache "2.0"\nsecond line'),
        messages=({"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello there "}),
        requires="0.14.0",
    )
    list(create_model(library, ModelName.parse("orig"), request))
    info = library.model_info(ModelName.parse("orig"))
    assert info.model_path is not None
    text = modelfile_of(info)
    parsed = parse_modelfile(text)
    local = find_local_files(parsed, tmp_path)
    files = {key: library.add_file(path)[0] for key, path in local.files.items()}
    list(create_model(library, ModelName.parse("copy"), CreateRequest.from_modelfile(parsed, files=files)))
    first = library.get_model(ModelName.parse("orig")).manifest.digest
    assert library.get_model(ModelName.parse("copy")).manifest.digest == first


def test_capabilities_inferred_from_model_info_when_not_recorded(library: Library) -> None:
    config = {"model_family": "bert", "model_info": {"general.architecture": "bert", "bert.pooling_type": 2}}
    make_model(library, "emb", weights=b"GGUF...", config=config)
    assert capabilities(library.model_info(ModelName.parse("emb"))) == ["embedding"]
    make_model(library, "plain", weights=b"GGUF.", template="{{ .Tools }}{{ .Suffix }}")
    assert capabilities(library.model_info(ModelName.parse("plain"))) == ["completion", "tools", "insert"]
