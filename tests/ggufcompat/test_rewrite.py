"""The lossless header round trip, the data layout of a translated file, and its atomic write."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from registry.ggufcompat import PADDING_KEY, expected_file, plan_translation, write_translated
from registry.ggufcompat.raw_header import read_raw_header, serialize_header
from tests.support.ollama_gguf import write_ollama_gemma3, write_synthetic
from tests.support.tiny_gguf import write_tiny_gguf


def test_header_round_trip_is_byte_exact(tmp_path: Path) -> None:
    src = write_ollama_gemma3(tmp_path / "g.gguf")
    header = read_raw_header(src)
    raw = serialize_header(header.kvs, header.tensors)
    assert src.read_bytes()[: len(raw)] == raw
    assert header.data_offset == -(-len(raw) // header.alignment) * header.alignment


def test_translated_file_keeps_every_kept_byte_and_aligns_the_largest_run(tmp_path: Path) -> None:
    src = write_ollama_gemma3(tmp_path / "g.gguf")
    before = hashlib.sha256(src.read_bytes()).hexdigest()
    plan = plan_translation(src)
    assert plan is not None
    dest = tmp_path / "out.gguf"
    size = write_translated(src, plan, dest)
    assert dest.stat().st_size == size
    assert hashlib.sha256(src.read_bytes()).hexdigest() == before  # the source is only read
    laid_out = expected_file(plan)
    header, expected_size = laid_out.header, laid_out.size
    assert dest.read_bytes()[: len(header)] == header and expected_size == size
    out = read_raw_header(dest)
    assert any(kv.key == PADDING_KEY for kv in out.kvs)
    source_header = read_raw_header(src)
    by_name = {t.name: t for t in source_header.tensors}
    data_src, data_dst = src.read_bytes(), dest.read_bytes()
    from registry.ggufcompat.raw_header import tensor_nbytes

    offset = 0
    for t in out.tensors:
        assert t.offset == offset  # contiguous, as gguf requires
        n = tensor_nbytes(t.shape, t.ggml_type)
        original = by_name[t.name]
        got = data_dst[out.data_offset + t.offset : out.data_offset + t.offset + n]
        want = data_src[
            source_header.data_offset + original.offset : source_header.data_offset + original.offset + n
        ]
        assert got == want, t.name
        offset += -(-n // out.alignment) * out.alignment
    assert not any(t.name.startswith(("v.", "mm.")) for t in out.tensors)


def test_a_failed_write_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = write_ollama_gemma3(tmp_path / "g.gguf")
    plan = plan_translation(src)
    assert plan is not None
    dest = tmp_path / "out" / "x.gguf"
    dest.parent.mkdir()

    def broken_fsync(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError):
        write_translated(src, plan, dest)
    assert list(dest.parent.iterdir()) == []


def test_plain_llama_gguf_is_left_alone(tmp_path: Path) -> None:
    assert plan_translation(write_tiny_gguf(tmp_path / "t.gguf")) is None


def test_not_a_gguf_is_a_clear_error(tmp_path: Path) -> None:
    from registry.errors import InvalidWeights

    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"GGUF\x03\x00\x00\x00" + b"\xff" * 30)
    with pytest.raises(InvalidWeights, match="GGUF"):
        plan_translation(bad)


def test_synthetic_trailing_hidden_tensors(tmp_path: Path) -> None:
    src = write_synthetic(tmp_path / "l.gguf", "llama4", {}, {"a.weight": (8, 8), "v.z.weight": (64, 64)})
    plan = plan_translation(src)
    assert plan is not None
    dest = tmp_path / "o.gguf"
    write_translated(src, plan, dest)
    assert dest.stat().st_size < src.stat().st_size  # the hidden tower's bytes are not copied
