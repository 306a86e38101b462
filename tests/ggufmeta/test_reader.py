"""The GGUF header reader and metadata: facts as Ollama shows them, clean errors for bad files."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from registry.errors import InvalidWeights
from registry.ggufmeta import file_type_name, human_number, read_gguf_header, read_metadata
from tests.support.tiny_gguf import CHAT_TEMPLATE, write_tiny_gguf


@pytest.mark.parametrize(
    ("n", "text"),
    [
        (268098176, "268.10M"),
        (8030261248, "8.0B"),
        (3_000_000_000, "3B"),
        (137_000_000, "137M"),
        (81984, "82K"),
        (999, "999"),
    ],
)
def test_human_number(n: int, text: str) -> None:
    assert human_number(n) == text


def test_file_type_names() -> None:
    assert [file_type_name(v) for v in (0, 1, 7, 14, 15, 32, 9999)] == [
        "F32", "F16", "Q8_0", "Q4_K_S", "Q4_K_M", "BF16", "unknown",
    ]  # fmt: skip


def test_metadata_of_tiny_model(tiny_gguf: Path) -> None:
    meta = read_metadata(tiny_gguf)
    assert (meta.architecture, meta.file_type, meta.parameter_size) == ("llama", "F32", "82K")
    assert (meta.context_length, meta.embedding_length, meta.tokenizer_model) == (256, 64, "llama")
    assert meta.chat_template == CHAT_TEMPLATE
    assert meta.pooling_type is None and meta.kind == "model"
    info = meta.model_info()
    assert info["tokenizer.ggml.tokens"] == [] and info["tokenizer.ggml.bos_token_id"] == 1
    assert "general.name" not in info and "tokenizer.chat_template" not in info
    assert info["llama.attention.layer_norm_rms_epsilon"] == 1e-05
    header = read_gguf_header(tiny_gguf)
    assert header.array_lengths["tokenizer.ggml.tokens"] > 256
    assert {t.name for t in header.tensors} >= {"token_embd.weight", "output.weight"}


def test_adapter_and_projector_kinds(tmp_path: Path) -> None:
    adapter = write_tiny_gguf(tmp_path / "a.gguf", extra_kv={"general.type": "adapter"})
    assert read_metadata(adapter).kind == "adapter"
    clip = write_tiny_gguf(tmp_path / "c.gguf", arch="clip")
    assert read_metadata(clip).kind == "projector"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "not a GGUF file (only 0 bytes)"),
        (b"PK\x03\x04" + b"\x00" * 100, "not a GGUF file (it does not start with the GGUF magic)"),
        (b"GGUF" + struct.pack("<I", 9) + b"\x00" * 16, "unsupported GGUF version 9"),
        (b"GGUF" + struct.pack("<IQQ", 3, 0, 1), "truncated GGUF file"),
        (b"GGUF" + struct.pack("<IQQ", 3, 0, 1 << 40), "implausible counts"),
    ],
)
def test_bad_files(tmp_path: Path, data: bytes, message: str) -> None:
    path = tmp_path / "bad.gguf"
    path.write_bytes(data)
    with pytest.raises(InvalidWeights) as info:
        read_metadata(path, "bad.gguf")
    assert str(info.value).startswith("bad.gguf: ")
    assert message in str(info.value)


def test_nested_arrays_are_refused(tmp_path: Path) -> None:
    key = b"deep"
    data = b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + struct.pack("<Q", len(key)) + key
    data += struct.pack("<IIQ", 9, 9, 1) * 2000
    path = tmp_path / "deep.gguf"
    path.write_bytes(data)
    with pytest.raises(InvalidWeights, match="nested array"):
        read_metadata(path)


def test_missing_architecture(tmp_path: Path) -> None:
    path = tmp_path / "noarch.gguf"
    path.write_bytes(b"GGUF" + struct.pack("<IQQ", 3, 0, 0))
    with pytest.raises(InvalidWeights, match=r"general\.architecture is missing"):
        read_metadata(path)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    cut=st.integers(0, 10_000),
    flips=st.lists(st.tuples(st.integers(0, 9_000), st.integers(0, 255)), max_size=4),
)
def test_truncated_or_corrupted_headers_fail_cleanly(
    tmp_path_factory: pytest.TempPathFactory, tiny_gguf: Path, cut: int, flips: list[tuple[int, int]]
) -> None:
    data = bytearray(tiny_gguf.read_bytes()[: cut if cut < 10_000 else None])
    for offset, value in flips:
        if offset < len(data):
            data[offset] = value
    path = tmp_path_factory.mktemp("fuzz") / "f.gguf"
    path.write_bytes(bytes(data))
    try:
        meta = read_metadata(path)
    except InvalidWeights as err:
        assert str(err).startswith(str(path))
    else:
        assert meta.architecture
