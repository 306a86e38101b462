"""Import a ``.tar.zst`` OCI image layout (ours, or any with full model names as ref names).

Every blob is streamed into a verifying writer under the digest its path names (a mismatch raises
:class:`DigestMismatch` and nothing is named); blobs the library already has are skipped. Models
are named last, after all blobs are in; a model already pointing at the same manifest is left as
it is, so importing the same archive twice is a no-op. Nothing from the archive ever becomes a
file path: links, devices and unexpected names are refused.
"""

from __future__ import annotations

import json
import tarfile
from dataclasses import dataclass, field
from typing import IO, BinaryIO

import zstandard

from registry.errors import InvalidInput, InvalidManifest, InvalidName
from registry.oci import mediatypes
from registry.oci.digest import Digest
from registry.oci.manifest import Manifest, ManifestDocument
from registry.oci.name import ModelName
from registry.store.archive.layout import INDEX, OCI_LAYOUT
from registry.store.library import Library

__all__ = ["ImportReport", "import_archive"]

_COPY = 1 << 20


@dataclass
class ImportReport:
    """What an import did."""

    imported: list[ModelName] = field(default_factory=list)
    unchanged: list[ModelName] = field(default_factory=list)
    blobs_added: int = 0
    blobs_present: int = 0
    bytes_added: int = 0


def import_archive(library: Library, source: BinaryIO) -> ImportReport:
    """Restore the models of an archive read from ``source``.

    Raises:
        InvalidInput: not a zstd tar OCI layout, a bad member, or a bad model name.
        DigestMismatch: a blob's bytes do not match its name (nothing named).
        BlobNotFound: a manifest needs a blob the archive lacks.
    """
    report = ImportReport()
    index: bytes | None = None
    try:
        reader = zstandard.ZstdDecompressor().stream_reader(source, closefd=False)
        with tarfile.open(fileobj=reader, mode="r|") as tar:
            for member in tar:
                data = _member(library, tar, member, report)
                if data is not None:
                    index = data
    except (tarfile.TarError, zstandard.ZstdError, EOFError) as err:
        raise InvalidInput(f"not a model archive (zstd-compressed tar): {err}") from err
    if index is None:
        raise InvalidInput("not a model archive: it has no index.json")
    for name, digest in _index_entries(index):
        _name_model(library, name, digest, report)
    return report


def _member(
    library: Library, tar: tarfile.TarFile, member: tarfile.TarInfo, report: ImportReport
) -> bytes | None:
    """Ingest one member; returns the index bytes when it is ``index.json``."""
    name = member.name.removeprefix("./")
    if member.isdir():
        return None
    if not member.isfile():
        raise InvalidInput(f"archive member {name!r} is not a regular file")
    fileobj = tar.extractfile(member)
    assert fileobj is not None
    if name == INDEX:
        return fileobj.read(16 << 20)
    if name == OCI_LAYOUT:
        layout = json.loads(fileobj.read(4096) or b"{}")
        if layout.get("imageLayoutVersion") != "1.0.0":
            raise InvalidInput("archive's oci-layout is not version 1.0.0")
        return None
    parts = name.split("/")
    if len(parts) != 3 or parts[:2] != ["blobs", "sha256"]:
        raise InvalidInput(f"unexpected archive member {name!r}")
    digest = Digest.parse(f"sha256:{parts[2]}")
    if library.has_blob(digest):
        report.blobs_present += 1
        return None
    _ingest(library, digest, member.size, fileobj)
    report.blobs_added += 1
    report.bytes_added += member.size
    return None


def _ingest(library: Library, digest: Digest, size: int, fileobj: IO[bytes]) -> None:
    writer = library.blobs.writer(digest, size)
    with writer:
        while chunk := fileobj.read(_COPY):
            writer.write(chunk)
        writer.finish()
    library.commit(writer)


def _index_entries(raw: bytes) -> list[tuple[ModelName, Digest]]:
    """The (model name, manifest digest) entries of the layout's ``index.json``.

    Raises:
        InvalidInput: not an OCI index, or an entry without a valid model name or of another type.
    """
    try:
        index = ManifestDocument.parse(raw, parse_digest=Digest.parse)
    except InvalidManifest as err:
        raise InvalidInput(f"archive's index.json is not an OCI index: {err}") from err
    if not index.is_index:
        raise InvalidInput("archive's index.json is not an OCI index: it has no manifests")
    out: list[tuple[ModelName, Digest]] = []
    for entry in index.manifests:
        annotations = entry.extra.get("annotations")
        ref = annotations.get(mediatypes.REF_NAME) if isinstance(annotations, dict) else None
        if not isinstance(ref, str):
            raise InvalidInput("archive's index.json has a manifest without a model name (ref.name)")
        if entry.media_type not in mediatypes.MANIFEST_TYPES:
            raise InvalidInput(f"archive entry {ref!r} is not an image manifest")
        try:
            name = ModelName.parse(ref)
        except InvalidName as err:
            raise InvalidInput(f"archive names a model {ref!r} that is not a valid name: {err}") from err
        out.append((name, entry.digest))
    return out


def _name_model(library: Library, name: ModelName, digest: Digest, report: ImportReport) -> None:
    row = library.find_model(name)
    if row is not None and row.manifest.digest == digest:
        report.unchanged.append(name)
        return
    manifest = Manifest.parse(library.blobs.read_bytes(digest))
    if manifest.digest != digest:
        raise InvalidInput(f"archive manifest for {name} does not match its digest")
    library.put_model(name, manifest)
    report.imported.append(name)
