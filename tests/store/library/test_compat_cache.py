"""The library's cache of llama.cpp translations: built once per digest (also under concurrent
first loads), rebuilt when the file on disk is not the plan, reported by verify, removed by
verify --repair and by prune once no model uses the blob; the blob itself never changes."""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from registry.oci.digest import Digest
from registry.oci.name import ModelName
from registry.store.library import Library
from tests.support.gguf_models import add_gguf_model
from tests.support.ollama_gguf import write_ollama_gemma3
from tests.support.tiny_gguf import write_tiny_gguf


def _model_digest(library: Library, name: str) -> Digest:
    info = library.model_info(ModelName.parse(name))
    assert info.model_digest is not None
    return info.model_digest


def test_built_once_and_checked(library: Library, tmp_path: Path) -> None:
    add_gguf_model(library, "g", write_ollama_gemma3(tmp_path / "g.gguf"))
    digest = _model_digest(library, "g")
    blob = library.blob_path(digest)
    before = hashlib.sha256(blob.read_bytes()).hexdigest()
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: library.runnable_weights(digest), range(4)))
    assert sum(r.built for r in results) == 1
    assert {r.path for r in results} == {library.layout.compat_path(digest)}
    assert results[0].notes and not library.runnable_weights(digest).built
    assert library.compat_notes(digest) == results[0].notes
    assert library.verify().stale_translations == []

    path = results[0].path
    path.chmod(0o644)
    with open(path, "r+b") as f:  # an edited or cut-short translation is noticed and rebuilt
        f.truncate(path.stat().st_size - 10)
    assert library.verify().stale_translations == [path]
    assert library.runnable_weights(digest).built
    assert library.verify().stale_translations == []
    with open(path, "r+b") as f:
        f.truncate(100)
    report = library.verify(repair=True)
    assert report.stale_translations == [path] and not path.exists() and report.ok
    assert hashlib.sha256(blob.read_bytes()).hexdigest() == before


def test_a_native_gguf_runs_from_its_blob(library: Library, tmp_path: Path) -> None:
    add_gguf_model(library, "t", write_tiny_gguf(tmp_path / "t.gguf"))
    digest = _model_digest(library, "t")
    runnable = library.runnable_weights(digest)
    assert runnable.path == library.blob_path(digest) and runnable.notes == () and not runnable.built
    assert not library.layout.compat_dir.exists() or not any(library.layout.compat_dir.iterdir())


def test_prune_keeps_translations_in_use_and_removes_the_rest(library: Library, tmp_path: Path) -> None:
    add_gguf_model(library, "a", write_ollama_gemma3(tmp_path / "a.gguf", seed=1))
    add_gguf_model(library, "b", write_ollama_gemma3(tmp_path / "b.gguf", seed=2))
    kept, gone = _model_digest(library, "a"), _model_digest(library, "b")
    library.runnable_weights(kept)
    library.runnable_weights(gone)
    library.remove(ModelName.parse("b"))
    dry = library.prune(dry_run=True, grace_seconds=0)
    assert dry.compat_files_removed == 1 and library.layout.compat_path(gone).exists()
    report = library.prune(grace_seconds=0)
    assert report.compat_files_removed == 1
    assert library.layout.compat_path(kept).exists() and not library.layout.compat_path(gone).exists()
