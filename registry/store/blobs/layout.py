"""Where things live under a store root. Pure path arithmetic; creating directories is explicit.

    <root>/
      catalog.db                  SQLite catalog (when no database URL is configured)
      index.json                  which name points at which manifest blob (OCI image-index style),
                                  rewritten atomically with every name change: the catalog can be
                                  rebuilt from it and the manifest blobs (``verify --rebuild-catalog``)
      blobs/sha256/<ab>/<hex>     committed blobs, read-only, named by their sha256
      partials/<hex>              resumable transfer data for one blob ...
      partials/<hex>.json         ... and its persisted state (owned by the transfer code)
      tmp/<random>                in-flight writes; never read; swept by prune after the grace period
      quarantine/<hex>            corrupt blobs moved aside by ``verify --repair``
      compat/sha256-<hex>.gguf    the llama.cpp view of an Ollama-converted GGUF blob, built on first
                                  load (``registry.ggufcompat``); derived data, removed by prune
                                  once no model uses the blob
      locks/                      advisory lock files for cross-process coordination

Every path is derived from a parsed :class:`~registry.oci.digest.Digest` (64 lowercase hex), never
from user text, so no input can address a file outside the root.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from registry.errors import StoreLayoutError
from registry.oci.digest import ALGORITHMS, Digest

__all__ = ["StoreLayout"]


@dataclass(frozen=True, slots=True)
class StoreLayout:
    """Paths under one store root."""

    root: Path

    @property
    def blobs_dir(self) -> Path:
        """Root of the committed blobs (``blobs/sha256``)."""
        return self.root / "blobs" / "sha256"

    @property
    def compat_dir(self) -> Path:
        """Translated GGUFs for llama.cpp, one per source blob (``registry.ggufcompat``)."""
        return self.root / "compat"

    def compat_path(self, digest: Digest) -> Path:
        """The translated GGUF of the blob ``digest``."""
        return self.compat_dir / f"{digest.algorithm}-{digest.hex}.gguf"

    def compat_projector_path(self, digest: Digest) -> Path:
        """The vision projector (mmproj) extracted from the monolithic blob ``digest``."""
        return self.compat_dir / f"{digest.algorithm}-{digest.hex}.mmproj.gguf"

    @property
    def partials_dir(self) -> Path:
        """Resumable transfer files."""
        return self.root / "partials"

    @property
    def tmp_dir(self) -> Path:
        """In-flight writes."""
        return self.root / "tmp"

    @property
    def quarantine_dir(self) -> Path:
        """Corrupt blobs set aside by repair."""
        return self.root / "quarantine"

    @property
    def locks_dir(self) -> Path:
        """Advisory lock files."""
        return self.root / "locks"

    @property
    def catalog_path(self) -> Path:
        """The default SQLite catalog file."""
        return self.root / "catalog.db"

    @property
    def index_path(self) -> Path:
        """The store's name index (see ``registry.store.library.name_index``)."""
        return self.root / "index.json"

    def blob_path(self, digest: Digest) -> Path:
        """Final path of a committed blob (``blobs/<algorithm>/<ab>/<hex>``)."""
        return self.root / "blobs" / digest.algorithm / digest.hex[:2] / digest.hex

    def partial_path(self, digest: Digest) -> Path:
        """Data file of a resumable transfer."""
        return self.partials_dir / digest.hex

    def partial_state_path(self, digest: Digest) -> Path:
        """State file of a resumable transfer."""
        return self.partials_dir / f"{digest.hex}.json"

    def create(self) -> None:
        """Create the directory tree (idempotent).

        Raises:
            StoreLayoutError: when the root is an Ollama models directory (``manifests/`` plus
                ``blobs/sha256-*`` files): our layout differs and we never write into Ollama's.
        """
        if (self.root / "manifests").is_dir() and _has_ollama_blobs(self.root / "blobs"):
            raise StoreLayoutError(
                f"{self.root} is an Ollama models directory; ollama-py keeps its own store and never "
                "writes into Ollama's. Point OLLAMA_MODELS elsewhere and adopt these models with "
                f"'ollama-py import-ollama {self.root}'."
            )
        for path in (self.blobs_dir, self.partials_dir, self.tmp_dir, self.quarantine_dir, self.locks_dir):
            path.mkdir(parents=True, exist_ok=True)

    def has_blob_files(self) -> bool:
        """True when any file lies under ``blobs/`` (stops at the first one found)."""
        return any(True for _ in self.iter_blob_files())

    def iter_blob_files(self) -> Iterator[tuple[Digest | None, os.DirEntry[str]]]:
        """Every file under ``blobs/<algorithm>`` (sha256, and sha512 where the registry server
        stored some): ``(digest, entry)``, digest ``None`` for a stray name."""
        for algorithm in ALGORITHMS:
            try:
                fanouts = list(os.scandir(self.root / "blobs" / algorithm))
            except FileNotFoundError:
                continue
            for fanout in fanouts:
                if not fanout.is_dir(follow_symlinks=False):
                    yield None, fanout
                    continue
                for entry in os.scandir(fanout.path):
                    yield _digest_or_none(entry.name, fanout.name, algorithm), entry


def _digest_or_none(name: str, fanout: str, algorithm: str) -> Digest | None:
    if len(name) != ALGORITHMS[algorithm] or not name.startswith(fanout):
        return None
    try:
        return Digest(name, algorithm)
    except ValueError:
        return None


def _has_ollama_blobs(blobs: Path) -> bool:
    try:
        return any(entry.name.startswith("sha256-") for entry in os.scandir(blobs))
    except OSError:
        return False
