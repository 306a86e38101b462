"""Untrusted JSON never raises RecursionError: the pure decoder, the library's manifest parser, and a
model whose config, parameters or messages a hostile registry nested thousands of levels deep."""

from __future__ import annotations

import pytest

from registry.bounded_json import JsonTooDeep, loads_bounded, nests_deeper_than
from registry.errors import InvalidManifest
from registry.oci import mediatypes as mt
from registry.oci.manifest import Descriptor, Manifest, build_manifest
from registry.oci.name import ModelName
from registry.store.library import Library

DEEP = b"[" * 5000 + b"]" * 5000


@pytest.mark.parametrize("depth", [65, 1000, 5000, 100_000])
def test_deep_documents_are_too_deep_never_recursion(depth: int) -> None:
    for doc in (b"[" * depth + b"]" * depth, b'{"a":' * depth + b"1" + b"}" * depth):
        with pytest.raises(JsonTooDeep, match="nested more than 64 levels deep"):
            loads_bounded(doc, 64)


def test_the_limit_is_exact_and_scalars_do_not_count() -> None:
    assert loads_bounded(b"[" * 64 + b"1" + b"]" * 64, 64) is not None
    with pytest.raises(JsonTooDeep):
        loads_bounded(b"[" * 65 + b"]" * 65, 64)
    assert not nests_deeper_than({"a": [1, "x", None]}, 2)
    assert nests_deeper_than({"a": [[1]]}, 2)
    assert loads_bounded('"[[[[[[[["', 2) == "[[[[[[[["  # brackets inside a string are not nesting


@pytest.mark.parametrize("text", ["NaN", "[Infinity]", "-Infinity", "1e400", "[" + "9" * 5000 + "]"])
def test_numbers_go_refuses_are_value_errors(text: str) -> None:
    with pytest.raises(ValueError):
        loads_bounded(text, 10)


def test_lenient_numbers_still_refuse_what_python_cannot_convert() -> None:
    assert loads_bounded("[1e400]", 10, strict_numbers=False) == [float("inf")]
    with pytest.raises(ValueError):
        loads_bounded("9" * 5000, 10, strict_numbers=False)


def test_library_manifest_parser_refuses_deep_json_as_an_invalid_manifest() -> None:
    with pytest.raises(InvalidManifest, match="nested more than"):
        Manifest.parse(b'{"schemaVersion": 2, "layers": ' + DEEP + b"}")


def test_a_model_whose_config_params_and_messages_nest_5000_deep_is_stored_and_shown(
    library: Library,
) -> None:
    def add(media_type: str, data: bytes) -> Descriptor:
        digest, size = library.add_bytes(data)
        return Descriptor(media_type, digest, size)

    config = add(mt.DOCKER_CONFIG, DEEP)
    layers = [
        add(mt.OLLAMA_MODEL, b"GGUF" + b"\0" * 60),
        add(mt.OLLAMA_PARAMS, b'{"a":' * 5000 + b"1" + b"}" * 5000),
        add(mt.OLLAMA_MESSAGES, DEEP),
    ]
    library.put_model(ModelName.parse("deep"), build_manifest(config, layers))
    info = library.model_info(ModelName.parse("deep"))
    assert info.config == {} and info.parameters == {} and info.messages == ()
