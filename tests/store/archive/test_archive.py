"""Export/import: an OCI layout in a zstd tar, deterministic, verified, idempotent."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest
import zstandard

from registry.errors import DigestMismatch, InvalidInput, ModelNotFound
from registry.oci.name import ModelName
from registry.store.archive import export_models, import_archive
from registry.store.archive.exporter import export_to_path
from registry.store.library import Library
from tests.support.models import make_model


def _models(library: Library) -> list[ModelName]:
    make_model(library, "alpha", weights=b"GGUF alpha" * 1000, template="{{ .Prompt }}", licenses=["MIT"])
    make_model(library, "beta:small", weights=b"GGUF beta" * 500, system="be brief")
    return [ModelName.parse("beta:small"), ModelName.parse("alpha")]


def _export(library: Library, names: list[ModelName]) -> bytes:
    out = io.BytesIO()
    export_models(library, names, out)
    return out.getvalue()


def test_export_is_deterministic_and_an_oci_layout(library: Library, tmp_path: Path) -> None:
    names = _models(library)
    first = _export(library, names)
    assert _export(library, list(reversed(names))) == first
    other = Library.open(tmp_path / "other")
    try:
        _models(other)
        assert _export(other, names) == first  # another store, other mtimes: same bytes
    finally:
        other.close()
    with tarfile.open(
        fileobj=io.BytesIO(zstandard.ZstdDecompressor().decompress(first, max_output_size=1 << 26))
    ) as tar:
        members = tar.getnames()
        assert members[:2] == ["oci-layout", "index.json"]
        index = json.load(tar.extractfile("index.json"))  # type: ignore[arg-type]
    refs = [m["annotations"]["org.opencontainers.image.ref.name"] for m in index["manifests"]]
    assert refs == ["registry.ollama.ai/library/alpha:latest", "registry.ollama.ai/library/beta:small"]
    assert all(name.startswith("blobs/sha256/") for name in members[4:])


def test_import_restores_and_twice_is_noop(library: Library, tmp_path: Path) -> None:
    names = _models(library)
    archive = _export(library, names)
    target = Library.open(tmp_path / "target")
    try:
        report = import_archive(target, io.BytesIO(archive))
        assert sorted(n.key for n in report.imported) == sorted(n.key for n in names)
        assert target.verify().ok
        for name in names:
            assert target.get_model(name).manifest.digest == library.get_model(name).manifest.digest
        again = import_archive(target, io.BytesIO(archive))
        assert again.imported == [] and again.blobs_added == 0
        assert len(again.unchanged) == 2
    finally:
        target.close()


def test_export_to_path_and_unknown_model(library: Library, tmp_path: Path) -> None:
    _models(library)
    with pytest.raises(ModelNotFound):
        export_to_path(library, [ModelName.parse("nope")], tmp_path / "x.tar.zst")
    assert not (tmp_path / "x.tar.zst").exists()
    assert not (tmp_path / "x.tar.zst.tmp").exists()


def test_corrupt_blob_is_refused(library: Library, tmp_path: Path) -> None:
    names = _models(library)
    raw = zstandard.ZstdDecompressor().decompress(_export(library, names), max_output_size=1 << 26)
    pos = raw.index(b"GGUF alpha")
    bad = raw[:pos] + b"XXXX" + raw[pos + 4 :]
    target = Library.open(tmp_path / "target")
    try:
        with pytest.raises(DigestMismatch):
            import_archive(target, io.BytesIO(zstandard.ZstdCompressor().compress(bad)))
        assert target.list_models() == []
    finally:
        target.close()


def test_garbage_is_invalid_input(library: Library) -> None:
    with pytest.raises(InvalidInput):
        import_archive(library, io.BytesIO(b"definitely not zstd"))


def test_links_and_strange_members_are_refused(library: Library) -> None:
    def archive(member: tarfile.TarInfo, data: bytes = b"") -> io.BytesIO:
        raw = io.BytesIO()
        with tarfile.open(fileobj=raw, mode="w") as tar:
            tar.addfile(member, io.BytesIO(data) if data else None)
        return io.BytesIO(zstandard.ZstdCompressor().compress(raw.getvalue()))

    link = tarfile.TarInfo("blobs/sha256/" + "a" * 64)
    link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
    with pytest.raises(InvalidInput, match="not a regular file"):
        import_archive(library, archive(link))
    odd = tarfile.TarInfo("../../evil")
    odd.size = 1
    with pytest.raises(InvalidInput, match="unexpected archive member"):
        import_archive(library, archive(odd, b"x"))
    assert library.list_models() == []
