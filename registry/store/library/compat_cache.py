"""The library's cache of translated GGUFs: what the runner loads for an Ollama-converted blob.

:meth:`CompatCache.runnable_weights` answers the file llama.cpp should load for a model blob: the blob itself
when it needs no translation, else ``compat/sha256-<hex>.gguf``, built once per digest under a
lock file (so concurrent loads, in one process or several, build it once) and rebuilt whenever the
file on disk is not exactly the planned translation (a crash mid-write leaves only a temporary
file; a truncated or edited file fails the size-and-header check). The blob is only read.
:meth:`CompatCache.runnable_projector` does the same for the vision projector inside a monolithic
blob (``compat/sha256-<hex>.mmproj.gguf``, see :mod:`registry.ggufcompat.projectors`).
:func:`sweep_compat` removes the translations of blobs no model uses any more (prune).
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Collection
from dataclasses import dataclass, replace
from pathlib import Path

from registry.errors import OllamaPyError
from registry.ggufcompat import FileLayout, Translation, expected_file, plan_translation, write_translated
from registry.ggufcompat.projectors import plan_projector
from registry.oci.digest import Digest
from registry.store.blobs import StoreLayout
from registry.store.blobs.oserrors import raise_store_error

__all__ = [
    "CompatCache",
    "RunnableProjector",
    "RunnableWeights",
    "stale_translations",
    "sweep_compat",
    "translation_notes",
]


@dataclass(frozen=True, slots=True)
class RunnableWeights:
    """The file to load, and what the compatibility layer changed (empty: the blob as it is)."""

    path: Path
    notes: tuple[str, ...] = ()
    built: bool = False
    """True when this call wrote the translation (the first load of this blob)."""


@dataclass(frozen=True, slots=True)
class RunnableProjector:
    """The vision projector extracted from a monolithic blob (``path``), or why there is none
    although the blob has a vision tower (``refusal``: the model runs text-only)."""

    path: Path | None
    refusal: str | None = None
    notes: tuple[str, ...] = ()


def _stem_digest(name: str) -> str:
    """``sha256:<hex>`` from a compat file name (``sha256-<hex>.gguf`` or ``...mmproj.gguf``)."""
    return name.removesuffix(".gguf").removesuffix(".mmproj").replace("-", ":", 1)


def translation_notes(layout: StoreLayout, digest: Digest) -> tuple[str, ...]:
    """What the compatibility layer changes in blob ``digest`` (empty when nothing); reads only the
    header. Raises Unsupported for a layout no translation fixes, InvalidWeights for a bad GGUF."""
    plan = plan_translation(layout.blob_path(digest), label=f"blob {digest}")
    return plan.notes if plan is not None else ()


def _is_built(path: Path, layout: FileLayout) -> bool:
    try:
        with open(path, "rb") as f:
            if os.fstat(f.fileno()).st_size != layout.size:
                return False
            return f.read(len(layout.header)) == layout.header
    except FileNotFoundError:
        return False


def _size_of(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return None


class CompatCache:
    """One store's translations, with what this process already checked remembered per digest
    (a blob never changes under its digest, so neither does its plan): after the first call for a
    digest, :meth:`runnable_weights` costs one ``stat``. Thread-safe."""

    def __init__(self, layout: StoreLayout) -> None:
        self._layout = layout
        self._known: dict[Digest, tuple[RunnableWeights, int]] = {}
        self._projectors: dict[Digest, tuple[RunnableProjector | None, int]] = {}
        self._lock = threading.Lock()

    def runnable_weights(self, digest: Digest) -> RunnableWeights:
        """The GGUF llama.cpp can load for the model blob ``digest`` (building the translation on
        first use).

        Raises:
            Unsupported: an Ollama layout that needs a tensor-data repack ollama-py does not do.
            InvalidWeights: the blob is not a readable GGUF.
            StoreError / DiskFull: the translation could not be written (nothing partial is left).
        """
        with self._lock:
            known = self._known.get(digest)
        if known is not None and _size_of(known[0].path) == known[1]:
            return replace(known[0], built=False)
        runnable, size = self._check_or_build(digest)
        with self._lock:
            self._known[digest] = (runnable, size)
        return runnable

    def runnable_projector(self, digest: Digest) -> RunnableProjector | None:
        """The vision projector inside the model blob ``digest``, extracted on first use; None
        when the blob has no vision tower.

        Raises:
            InvalidWeights: the blob is not a readable GGUF.
            StoreError / DiskFull: the projector could not be written (nothing partial is left).
        """
        with self._lock:
            known = self._projectors.get(digest)
        if known is not None and (
            known[0] is None or known[0].path is None or _size_of(known[0].path) == known[1]
        ):
            return known[0]
        source = self._layout.blob_path(digest)
        plan = plan_projector(source, label=f"blob {digest}")
        result: RunnableProjector | None = None
        size = 0
        if plan is not None and plan.translation is None:
            result = RunnableProjector(None, plan.refusal)
        elif plan is not None and plan.translation is not None:
            dest = self._layout.compat_projector_path(digest)
            size, _ = self._build(digest, source, plan.translation, dest, "mmproj")
            result = RunnableProjector(dest, None, plan.translation.notes)
        with self._lock:
            self._projectors[digest] = (result, size)
        return result

    def _check_or_build(self, digest: Digest) -> tuple[RunnableWeights, int]:
        layout = self._layout
        source = layout.blob_path(digest)
        plan = plan_translation(source, label=f"blob {digest}")
        if plan is None:
            return RunnableWeights(source), source.stat().st_size
        dest = layout.compat_path(digest)
        size, built = self._build(digest, source, plan, dest, "compat")
        return RunnableWeights(dest, plan.notes, built), size

    def _build(
        self, digest: Digest, source: Path, plan: Translation, dest: Path, kind: str
    ) -> tuple[int, bool]:
        """Write ``plan`` to ``dest`` unless it is already there, under a lock file per digest
        and ``kind``; (its size, whether this call wrote it)."""
        layout = self._layout
        expected = expected_file(plan)
        if _is_built(dest, expected):
            return expected.size, False
        try:
            layout.compat_dir.mkdir(parents=True, exist_ok=True)
            layout.locks_dir.mkdir(parents=True, exist_ok=True)
            lock_fd = os.open(layout.locks_dir / f"{kind}-{digest.hex}.lock", os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(lock_fd, fcntl.LOCK_EX)
                built = not _is_built(dest, expected)
                if built:
                    write_translated(source, plan, dest, expected)
            finally:
                os.close(lock_fd)
        except OSError as err:
            raise_store_error(err, f"writing the llama.cpp {kind} translation of blob {digest}")
            raise
        return expected.size, built


def stale_translations(layout: StoreLayout) -> list[Path]:
    """Translations in ``compat/`` that are not exactly what their blob's plan says (edited,
    truncated, from an older translator, or whose blob is gone or needs no translation now).
    A load would rebuild them; ``verify --repair`` removes them."""
    stale: list[Path] = []
    try:
        entries = sorted(layout.compat_dir.glob("sha256-*.gguf"))
    except FileNotFoundError:
        return stale
    for path in entries:
        try:
            digest = Digest.parse(_stem_digest(path.name))
            if path.name.endswith(".mmproj.gguf"):
                projector = plan_projector(layout.blob_path(digest))
                plan = projector.translation if projector is not None else None
            else:
                plan = plan_translation(layout.blob_path(digest))
        except (OllamaPyError, OSError):
            stale.append(path)
            continue
        if plan is None or not _is_built(path, expected_file(plan)):
            stale.append(path)
    return stale


def sweep_compat(layout: StoreLayout, live: Collection[str], *, dry_run: bool) -> tuple[int, int]:
    """Remove translations whose source blob is not in ``live`` (digest strings that models or
    leases mark), and leftover temporary files; returns (files removed, bytes freed)."""
    removed = freed = 0
    try:
        entries = list(os.scandir(layout.compat_dir))
    except FileNotFoundError:
        return 0, 0
    for entry in entries:
        name = entry.name
        digest = _stem_digest(name)
        if name.endswith(".gguf") and not name.startswith(".") and digest in live:
            continue
        if name.startswith(".") and _open_elsewhere(entry.path):
            continue
        try:
            size = entry.stat(follow_symlinks=False).st_size
            if not dry_run:
                os.unlink(entry.path)
        except FileNotFoundError:
            continue
        removed += 1
        freed += size
    return removed, freed


def _open_elsewhere(path: str) -> bool:
    """Whether a translation in progress still writes this temporary file (its name carries the
    writer's pid)."""
    try:
        pid = int(path.rsplit(".", 2)[-2])
        os.kill(pid, 0)
    except (ValueError, IndexError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    return True
