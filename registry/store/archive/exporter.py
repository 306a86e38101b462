"""Export models to a ``.tar.zst`` OCI image layout, byte-for-byte deterministic.

Determinism: members in a fixed order (``oci-layout``, ``index.json``, the ``blobs`` directories,
then blobs sorted by digest), pinned tar headers (``layout.tar_info``), the index sorted by model
name with compact JSON, and single-threaded zstandard at a fixed level (multi-threaded output would
depend on the machine). Memory stays constant: blobs are streamed.
"""

from __future__ import annotations

import json
import tarfile
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

import zstandard

from registry.oci import mediatypes
from registry.oci.digest import Digest
from registry.oci.name import ModelName
from registry.store.archive.layout import INDEX, OCI_LAYOUT, OCI_LAYOUT_BYTES, blob_member, tar_info
from registry.store.library import Library

__all__ = ["ZSTD_LEVEL", "export_models"]

ZSTD_LEVEL = 3
_COPY = 1 << 20


def export_models(library: Library, names: Sequence[ModelName], out: BinaryIO) -> list[Digest]:
    """Write the archive of ``names`` to ``out``; returns the digests of the blobs it holds.

    Raises:
        ModelNotFound: a name is not in the library (nothing is written in that case).
        BlobNotFound: the library lacks a blob a model needs (run ``verify``).
    """
    entries: list[tuple[str, Digest, int, str]] = []
    blobs: dict[Digest, int] = {}
    for name in sorted(set(names), key=lambda n: n.key):
        row = library.get_model(name)
        manifest = library.manifest_of(row)
        entries.append((str(row.name), row.manifest.digest, len(manifest.raw), manifest.media_type))
        blobs[row.manifest.digest] = len(manifest.raw)
        for desc in manifest.blobs():
            blobs[desc.digest] = desc.size
    paths = {digest: library.blob_path(digest) for digest in blobs}
    index = _index_bytes(entries)
    compressor = zstandard.ZstdCompressor(level=ZSTD_LEVEL, threads=0, write_checksum=True)
    with (
        compressor.stream_writer(out, closefd=False) as zout,
        tarfile.open(fileobj=zout, mode="w|", format=tarfile.GNU_FORMAT) as tar,
    ):
        _add_bytes(tar, OCI_LAYOUT, OCI_LAYOUT_BYTES)
        _add_bytes(tar, INDEX, index)
        for directory in ("blobs", "blobs/sha256"):
            tar.addfile(tar_info(directory, 0, directory=True))
        for digest in sorted(blobs, key=lambda d: d.hex):
            _add_file(tar, blob_member(digest.hex), paths[digest], blobs[digest])
    return sorted(blobs, key=lambda d: d.hex)


def _index_bytes(entries: list[tuple[str, Digest, int, str]]) -> bytes:
    doc = {
        "schemaVersion": 2,
        "mediaType": mediatypes.OCI_INDEX,
        "manifests": [
            {
                "mediaType": media_type,
                "digest": str(digest),
                "size": size,
                "annotations": {mediatypes.REF_NAME: name},
            }
            for name, digest, size, media_type in entries
        ],
    }
    return (json.dumps(doc, separators=(",", ":"), sort_keys=True) + "\n").encode()


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    import io

    tar.addfile(tar_info(name, len(data)), io.BytesIO(data))


def _add_file(tar: tarfile.TarFile, name: str, path: Path, size: int) -> None:
    with open(path, "rb") as f:
        tar.addfile(tar_info(name, size), f)


def export_to_path(library: Library, names: Sequence[ModelName], path: Path) -> list[Digest]:
    """:func:`export_models` into a file, written to ``<path>.tmp`` and renamed when complete."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        with open(tmp, "wb") as f:
            digests = export_models(library, names, f)
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return digests


__all__ += ["export_to_path"]
