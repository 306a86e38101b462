"""``<root>/index.json``: the store's own record of which name points at which manifest blob.

The catalog is the source of truth; this file is its recovery copy for names. It has the shape of
an OCI image layout's ``index.json``: an image index whose ``manifests`` are the models' manifest
blobs, each named by the ``org.opencontainers.image.ref.name`` annotation (the full
``host/namespace/model:tag``, spelled as first created). With the manifest blobs (every manifest is
stored as a blob) it is enough to rebuild a lost catalog (``verify --rebuild-catalog``).

Contract:
- :func:`write_index` is called inside the catalog write transaction that changes a name, with the
  names as that transaction sees them, so the file is never behind a committed catalog (at worst
  ahead of one whose commit then failed; the next change rewrites it whole).
- The file is replaced atomically (temporary file, fsync, rename, fsync of the directory): a reader
  sees the old index or the new one, never a mix.
- :func:`read_index` never trusts the file: entries whose name or digest does not parse are
  reported and skipped.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from registry.errors import InvalidDigest, InvalidName
from registry.oci import mediatypes as mt
from registry.oci.digest import Digest
from registry.oci.name import ModelName
from registry.store.blobs.writer import fsync_dir
from registry.store.catalog import ModelRow

__all__ = ["IndexEntry", "NameIndex", "read_index", "write_index"]

#: When the name last changed (UNIX seconds), so a rebuilt ``list`` keeps its order.
MODIFIED_AT = "io.github.ollama-py.modified-at"
#: An index larger than this is not read (a store has thousands of names at most).
MAX_INDEX_BYTES = 64 << 20


@dataclass(frozen=True, slots=True)
class IndexEntry:
    """One name and the manifest it points at."""

    name: ModelName
    manifest: Digest
    modified_at: float | None = None


@dataclass(slots=True)
class NameIndex:
    """What :func:`read_index` found: the valid entries and why others were skipped."""

    entries: list[IndexEntry] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def write_index(path: Path, rows: Iterable[ModelRow]) -> None:
    """Atomically replace ``path`` with an index of ``rows``. Raises ``OSError``."""
    manifests = [
        {
            "mediaType": row.manifest.media_type,
            "digest": str(row.manifest.digest),
            "size": row.manifest.size,
            "annotations": {
                mt.REF_NAME: f"{row.name.host}/{row.name.namespace}/{row.name.model}:{row.name.tag}",
                MODIFIED_AT: repr(float(row.modified_at)),
            },
        }
        for row in sorted(rows, key=lambda r: r.name.key)
    ]
    doc = {"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": manifests}
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(doc, f, indent=1)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    fsync_dir(path.parent)


def read_index(path: Path) -> NameIndex | None:
    """The index at ``path``; None when there is no such file. An unreadable file gives an index
    with no entries and a problem saying why."""
    index = NameIndex()
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_INDEX_BYTES + 1)
    except FileNotFoundError:
        return None
    except OSError as err:
        index.problems.append(f"{path}: {err.strerror or err}")
        return index
    try:
        if len(raw) > MAX_INDEX_BYTES:
            raise ValueError(f"larger than {MAX_INDEX_BYTES} bytes")
        doc = json.loads(raw)
        items = doc["manifests"] if isinstance(doc, dict) else None
        if not isinstance(items, list):
            raise ValueError("no manifests list")
    except (ValueError, KeyError, RecursionError) as err:
        index.problems.append(f"{path} is not a readable index ({err})")
        return index
    for position, item in enumerate(items):
        try:
            index.entries.append(_entry(item))
        except (InvalidName, InvalidDigest, ValueError, TypeError, KeyError) as err:
            index.problems.append(f"{path}: entry {position} skipped ({err})")
    return index


def _entry(item: object) -> IndexEntry:
    if not isinstance(item, dict):
        raise ValueError("not an object")
    annotations = item.get("annotations")
    if not isinstance(annotations, dict) or not isinstance(annotations.get(mt.REF_NAME), str):
        raise ValueError(f"no {mt.REF_NAME} annotation")
    name = ModelName.parse(annotations[mt.REF_NAME])
    if name.digest is not None:
        raise ValueError("a name with a digest")
    digest_text = item.get("digest")
    if not isinstance(digest_text, str):
        raise ValueError("no digest")
    digest = Digest.parse(digest_text)
    modified: float | None = None
    stamp = annotations.get(MODIFIED_AT)
    if isinstance(stamp, str):
        try:
            modified = float(stamp)
        except ValueError:
            modified = None
        if modified is not None and not (0 <= modified < 1e11):
            modified = None
    return IndexEntry(name, digest, modified)
