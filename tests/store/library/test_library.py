"""Library operations over both catalog engines: SQLite (default) and a real PostgreSQL server."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from registry.errors import BlobNotFound, InvalidManifest, ModelNotFound
from registry.oci import mediatypes as mt
from registry.oci.digest import sha256_of
from registry.oci.manifest import Descriptor, build_manifest
from registry.oci.name import ModelName
from registry.store.catalog import Database
from registry.store.catalog.migrate import head_revision
from registry.store.catalog.schema import SCHEMA_REVISION
from registry.store.library import Library
from tests.support.models import make_manifest, make_model

N = ModelName.parse


@pytest.fixture(params=["sqlite", "postgres"])
def lib(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Library]:
    """A library on each catalog engine."""
    url = None
    if request.param == "postgres":
        from tests.support.postgres import fresh_database

        url = fresh_database(request.getfixturevalue("postgres_url"))
    library = Library.open(tmp_path / "store", url)
    yield library
    library.close()


def test_schema_revision_is_alembic_head() -> None:
    assert head_revision() == SCHEMA_REVISION


def test_migrations_apply_once(lib: Library) -> None:
    assert lib.db.current_revision() == SCHEMA_REVISION
    again = Database(lib.db.url)  # a second process opening the same catalog
    assert again.current_revision() == SCHEMA_REVISION
    again.dispose()


def test_put_list_show(lib: Library) -> None:
    make_model(lib, "a", weights=b"w1", template="{{ .Prompt }}", system="sys", params={"stop": ["x", "y"]})
    make_model(lib, "me/b:v2", weights=b"w2", licenses=["L1", "L2"])
    names = [m.name.display_shortest for m in lib.list_models()]
    assert names == ["me/b:v2", "a:latest"]  # newest first
    info = lib.model_info(N("A"))
    assert info.template == "{{ .Prompt }}" and info.system == "sys"
    assert info.parameters == {"stop": ["x", "y"]}
    assert info.model_path is not None and info.model_path.read_bytes() == b"w1"
    assert lib.model_info(N("me/b:v2")).licenses == ("L1", "L2")
    assert info.details["family"] == "llama"


def test_case_insensitive_lookup_keeps_first_spelling(lib: Library) -> None:
    make_model(lib, "MixedCase", weights=b"w")
    make_model(lib, "mixedcase", weights=b"w2")  # re-tags the same name
    rows = lib.list_models()
    assert [r.name.model for r in rows] == ["MixedCase"]
    assert lib.get_model(N("MIXEDCASE")).manifest.digest == rows[0].manifest.digest


def test_put_refuses_missing_blobs_and_bad_manifests(lib: Library) -> None:
    manifest = make_manifest(lib, weights=b"w")
    missing = Descriptor(mt.OLLAMA_SYSTEM, sha256_of(b"never stored"), 12)
    assert manifest.config is not None
    broken = build_manifest(manifest.config, [*manifest.layers, missing])
    with pytest.raises(BlobNotFound, match="not found"):
        lib.put_model(N("x"), broken)
    index_raw = b'{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}'
    from registry.oci.manifest import Manifest

    with pytest.raises(InvalidManifest):
        lib.put_model(N("x"), Manifest.parse(index_raw))
    assert lib.list_models() == []


def test_copy_shares_manifest_and_rm_keeps_shared_blobs(lib: Library) -> None:
    make_model(lib, "src", weights=b"shared weights", system="s")
    lib.copy(N("src"), N("dst:v1"))
    assert lib.get_model(N("src")).manifest.digest == lib.get_model(N("dst:v1")).manifest.digest
    make_model(lib, "other", weights=b"shared weights", system="different")
    removed = lib.remove(N("src"))
    assert removed.blobs_removed == ()  # dst still uses all of it
    removed = lib.remove(N("dst:v1"))
    weights = sha256_of(b"shared weights")
    assert weights not in removed.blobs_removed  # "other" still needs the weights
    assert sha256_of(b"s") in removed.blobs_removed
    assert lib.has_blob(weights)
    with pytest.raises(ModelNotFound, match="model 'src:latest' not found"):
        lib.remove(N("src"))
    with pytest.raises(ModelNotFound):
        lib.copy(N("nope"), N("x"))
    assert lib.verify().ok


def test_retag_drops_the_unused_old_manifest(lib: Library) -> None:
    first = make_model(lib, "m", weights=b"v1")
    second = make_model(lib, "m", weights=b"v2")
    assert second.previous == first.digest
    freed = lib.remove_unused([first.digest, sha256_of(b"v1")])
    assert set(freed.blobs_removed) == {first.digest, sha256_of(b"v1")}
    assert lib.verify().ok


def test_prune_grace_dry_run_and_leases(lib: Library) -> None:
    make_model(lib, "keep", weights=b"kept")
    garbage, _ = lib.add_bytes(b"garbage")
    leased, _ = lib.add_bytes(b"leased")
    young = lib.prune(grace_seconds=3600)
    assert young.blobs_removed == []  # everything is younger than the grace period
    with lib.lease([leased], "test"):
        dry = lib.prune(dry_run=True, grace_seconds=0)
        assert dry.blobs_removed == [garbage] and lib.has_blob(garbage)
        real = lib.prune(grace_seconds=0)
        assert real.blobs_removed == [garbage] and real.bytes_freed == len(b"garbage")
        assert lib.has_blob(leased)
    assert lib.prune(grace_seconds=0).blobs_removed == [leased]
    assert [m.name.model for m in lib.list_models()] == ["keep"]
    assert lib.verify().ok


def test_prune_collects_orphans_partials_and_temp_files(lib: Library) -> None:
    orphan = lib.blobs.write_bytes(b"published but never recorded")  # a crash between publish and record
    partial = lib.layout.partial_path(sha256_of(b"p"))
    partial.write_bytes(b"half")
    tmp = lib.layout.tmp_dir / "w-dead"
    tmp.write_bytes(b"tmp")
    old = time.time() - 7200
    for path in (lib.blobs.path(orphan), partial, tmp):
        os.utime(path, (old, old))
    report = lib.prune(grace_seconds=3600)
    # ctime is "now" for files just written, so only a zero grace collects them here.
    report = lib.prune(grace_seconds=0)
    assert (
        report.orphan_files_removed == 1 and report.partials_removed == 1 and report.temp_files_removed == 1
    )
    assert not lib.blobs.exists(orphan) and not partial.exists() and not tmp.exists()


def test_verify_finds_and_repairs_corruption(lib: Library) -> None:
    make_model(lib, "good", weights=b"fine")
    make_model(lib, "bad", weights=b"will rot")
    make_model(lib, "gone", weights=b"will vanish")
    rotten = lib.blobs.path(sha256_of(b"will rot"))
    rotten.chmod(0o644)
    rotten.write_bytes(b"will rat")
    lib.blobs.path(sha256_of(b"will vanish")).unlink()
    report = lib.verify()
    assert not report.ok
    assert report.corrupt == [sha256_of(b"will rot")] and report.missing == [sha256_of(b"will vanish")]
    assert sorted(n.model for n in report.broken_models) == ["bad", "gone"]
    repaired = lib.verify(repair=True)
    assert repaired.quarantined == [sha256_of(b"will rot")]
    assert (lib.layout.quarantine_dir / sha256_of(b"will rot").hex).exists()
    rows = {m.name.model: m.broken for m in lib.list_models()}
    assert rows == {"good": False, "bad": True, "gone": True}  # never deleted silently
    # Re-creating a model clears the flag.
    make_model(lib, "bad", weights=b"will rot")
    assert {m.name.model: m.broken for m in lib.list_models()}["bad"] is False


def test_stdlib_fast_listing_matches_the_catalog(tmp_path: Path) -> None:
    from registry.store.catalog.sqlite_reader import read_models

    library = Library.open(tmp_path / "store")
    assert read_models(library.layout.catalog_path) == []
    make_model(library, "one", weights=b"1")
    make_model(library, "ns/two:t", weights=b"2", config={"model_family": "qwen"})
    library.verify(repair=False)
    assert read_models(library.layout.catalog_path) == library.list_models()
    assert read_models(tmp_path / "missing.db") is None
    library.close()
