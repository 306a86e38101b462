"""Adopt the models of an existing Ollama models directory without modifying it.

Ollama's layout: ``manifests/<host>/<namespace>/<model>/<tag>`` files and ``blobs/sha256-<hex>``.
Every blob is hashed and checked against its name before it enters our store, as a reflink clone
where the file system has them, else a copy made while hashing (never a hard link: a later write to
Ollama's file must not change our blob). Blobs we already have are not
read at all. Models are named last, each only when all its blobs are in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from registry.errors import DigestMismatch, InvalidDigest, InvalidManifest, InvalidName, OllamaPyError
from registry.oci.manifest import Manifest
from registry.oci.name import ModelName

if TYPE_CHECKING:
    from registry.store.library.library import Library

__all__ = ["OllamaImportReport", "import_ollama_models"]


@dataclass(slots=True)
class OllamaImportReport:
    """Per-model outcome of an import."""

    imported: list[ModelName] = field(default_factory=list)
    unchanged: list[ModelName] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (manifest path, reason)
    blobs_linked_or_copied: int = 0
    blobs_already_present: int = 0
    bytes_added: int = 0


def import_ollama_models(library: Library, ollama_dir: Path) -> OllamaImportReport:
    """Import every model under ``ollama_dir``. Never writes to ``ollama_dir``.

    Raises:
        FileNotFoundError: ``ollama_dir`` has no ``manifests`` directory.
    """
    manifests_dir = ollama_dir / "manifests"
    if not manifests_dir.is_dir():
        raise FileNotFoundError(f"{ollama_dir} is not an Ollama models directory (no manifests/ inside)")
    report = OllamaImportReport()
    for path in sorted(p for p in manifests_dir.glob("*/*/*/*") if p.is_file()):
        host, namespace, model, tag = path.relative_to(manifests_dir).parts
        try:
            name = ModelName(host=host, namespace=namespace, model=model, tag=tag)
            manifest = Manifest.parse(path.read_bytes())
            _import_one(library, ollama_dir, name, manifest, report)
        except (InvalidName, InvalidManifest, InvalidDigest, DigestMismatch, OllamaPyError, OSError) as err:
            report.failed.append((str(path), str(err)))
    return report


def _import_one(
    library: Library, ollama_dir: Path, name: ModelName, manifest: Manifest, report: OllamaImportReport
) -> None:
    existing = library.find_model(name)
    if existing is not None and existing.manifest.digest == manifest.digest:
        report.unchanged.append(name)
        return
    needed = [d.digest for d in manifest.blobs()]
    with library.lease(needed, f"import-ollama {name}"):
        missing = set(library.missing_blobs(needed))
        for descriptor in manifest.blobs():
            if descriptor.digest not in missing:
                report.blobs_already_present += 1
                continue
            source = ollama_dir / "blobs" / descriptor.digest.filename
            if not source.is_file():
                raise FileNotFoundError(f"blob {descriptor.digest} is missing from {ollama_dir / 'blobs'}")
            _, size = library.add_file(source, descriptor.digest)
            missing.discard(descriptor.digest)
            report.blobs_linked_or_copied += 1
            report.bytes_added += size
        library.put_model(name, manifest)
    report.imported.append(name)
