"""Issue 10 item 3: losing ``catalog.db`` must never empty the store.

A missing or empty catalog next to blobs that models need is an error that names the problem and
the fix; ``prune`` refuses to run; ``verify --rebuild-catalog`` brings every model whose manifest
blob survives back (names, digests) from the manifest blobs and the store's ``index.json``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from registry.errors import CatalogError
from registry.oci.name import ModelName
from registry.store.library import Library
from tests.support.checkout_env import checkout_pythonpath
from tests.support.models import make_manifest, make_model

N = ModelName.parse


def run(store: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OLLAMA_MODELS": str(store), "PYTHONPATH": checkout_pythonpath()}
    env.pop("OLLAMA_PY_DATABASE_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "registry.cli.main", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def files_under(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in (root / "blobs").rglob("*") if p.is_file()}


@pytest.fixture
def store(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A store with three names (one a copy) and an old unused blob; returns names -> manifest digests."""
    root = tmp_path / "store"
    lib = Library.open(root)
    make_model(lib, "llama3.2", weights=b"W" * 300_000, template="{{ .Prompt }}", system="Be brief.")
    make_model(lib, "me/tiny:q8", weights=b"tiny", params={"stop": ["<x>"]})
    lib.copy(N("me/tiny:q8"), N("Other.Host:5000/Team/Copy:v1"))
    lib.prune(grace_seconds=0)  # manifest blobs are referenced: prune keeps them
    names = {r.name.display_shortest: str(r.manifest.digest) for r in lib.list_models()}
    lib.close()
    assert len(names) == 3
    return root, names


def damage(root: Path, how: str) -> None:
    catalog = root / "catalog.db"
    if how == "delete":
        for suffix in ("", "-wal", "-shm"):
            Path(f"{catalog}{suffix}").unlink(missing_ok=True)
    else:
        with open(catalog, "r+b") as f:
            f.truncate(0)


@pytest.mark.parametrize("how", ["delete", "truncate"])
def test_lost_catalog_is_an_error_prune_refuses_and_rebuild_recovers(
    store: tuple[Path, dict[str, str]], how: str
) -> None:
    root, names = store
    damage(root, how)
    before = files_under(root)
    for args in (("list",), ("ls", "--json"), ("show", "llama3.2"), ("verify",), ("rm", "llama3.2")):
        out = run(root, *args)
        assert out.returncode != 0, (args, out.stdout, out.stderr)
        assert "catalog" in out.stderr and "verify --rebuild-catalog" in out.stderr, (args, out.stderr)
        assert out.stdout == ""
    for args in (("prune", "--grace", "0"), ("prune",), ("prune", "--dry-run")):
        out = run(root, *args)
        assert out.returncode != 0 and "verify --rebuild-catalog" in out.stderr, out
    assert files_under(root) == before  # nothing was deleted
    with pytest.raises(CatalogError, match="rebuild-catalog"):
        Library.open(root)

    rebuilt = run(root, "verify", "--rebuild-catalog")
    assert rebuilt.returncode == 0, rebuilt.stderr
    for name in names:
        assert f"recovered '{name}'" in rebuilt.stdout
    listed = json.loads(run(root, "list", "--json").stdout)["models"]
    assert {m["name"]: m["digest"] for m in listed} == {n: d.split(":")[1] for n, d in names.items()}
    shown = run(root, "show", "llama3.2", "--system")
    assert shown.returncode == 0 and shown.stdout == "Be brief.\n"
    assert run(root, "show", "Other.Host:5000/Team/Copy:v1", "--parameters").returncode == 0
    assert run(root, "verify").stdout.strip().endswith("ok")
    assert run(root, "prune", "--grace", "0").returncode == 0
    assert files_under(root) == before  # every blob belongs to a recovered model
    again = run(root, "verify", "--rebuild-catalog")  # idempotent
    assert again.returncode == 0 and "recovered '" not in again.stdout


def test_rebuild_keeps_names_exact_and_reports_what_it_cannot_recover(tmp_path: Path) -> None:
    root = tmp_path / "store"
    lib = Library.open(root)
    make_model(lib, "MixedCase/Model:Tag", weights=b"a")
    broken = make_model(lib, "broken", weights=b"layer that will be lost")
    layer = lib.manifest_of(lib.get_model(N("broken"))).layers[0].digest
    lib.close()
    damage(root, "delete")
    (root / "blobs" / "sha256" / layer.hex[:2] / layer.hex).unlink()
    out = run(root, "verify", "--rebuild-catalog")
    assert out.returncode == 1, out  # one model could not be recovered: reported, the rest is back
    assert "recovered 'MixedCase/Model:Tag'" in out.stdout
    assert f"not recovered 'broken:latest' ({broken.digest.short})" in out.stdout and str(layer) in out.stdout
    lib = Library.open(root)
    try:
        assert [r.name.display_shortest for r in lib.list_models()] == ["MixedCase/Model:Tag"]
        assert lib.verify().ok
    finally:
        lib.close()


def test_a_new_store_and_a_store_with_only_orphans_are_fine(tmp_path: Path) -> None:
    root = tmp_path / "new"
    assert run(root, "list").returncode == 0
    assert run(root, "verify").returncode == 0
    lib = Library.open(root)
    make_manifest(lib, weights=b"pulled, never named")  # blobs of an interrupted first pull
    lib.close()
    assert run(root, "list").returncode == 0
    damage(root, "delete")  # nothing was named: there is nothing to lose, prune may collect
    assert run(root, "list").returncode == 0
    assert run(root, "prune", "--grace", "0").returncode == 0
    assert files_under(root) == {}


def test_index_names_every_model_and_follows_every_change(tmp_path: Path) -> None:
    lib = Library.open(tmp_path / "store")
    try:

        def indexed() -> dict[str, str]:
            doc = json.loads((lib.layout.root / "index.json").read_text())
            assert doc["schemaVersion"] == 2 and doc["mediaType"] == "application/vnd.oci.image.index.v1+json"
            return {
                m["annotations"]["org.opencontainers.image.ref.name"]: m["digest"] for m in doc["manifests"]
            }

        assert indexed() == {}
        first = make_model(lib, "a", weights=b"1").digest
        lib.copy(N("a"), N("b"))
        assert indexed() == {
            "registry.ollama.ai/library/a:latest": str(first),
            "registry.ollama.ai/library/b:latest": str(first),
        }
        second = make_model(lib, "a", weights=b"2").digest
        lib.remove(N("b"))
        assert indexed() == {"registry.ollama.ai/library/a:latest": str(second)}
        for path in (lib.layout.root / "blobs").rglob("*"):
            if path.is_file() and path.name == second.hex:
                break
        else:
            pytest.fail("the manifest is not stored as a blob")
    finally:
        lib.close()


def test_store_from_before_the_index_keeps_working_and_can_be_rebuilt(
    store: tuple[Path, dict[str, str]],
) -> None:
    root, names = store
    (root / "index.json").unlink()  # as a store written before index.json existed
    listed = run(root, "list")
    assert listed.returncode == 0 and "llama3.2:latest" in listed.stdout
    assert run(root, "show", "llama3.2", "--system").stdout == "Be brief.\n"
    assert (root / "index.json").is_file()  # written when the library is first opened
    (root / "index.json").unlink()
    damage(root, "delete")
    out = run(root, "list")
    assert out.returncode != 0 and "verify --rebuild-catalog" in out.stderr
    assert run(root, "prune", "--grace", "0").returncode != 0
    rebuilt = run(root, "verify", "--rebuild-catalog")
    assert rebuilt.returncode == 0, rebuilt.stderr
    # Without the index the names are gone, but no model is: each comes back under its digest.
    listed_json = json.loads(run(root, "list", "--json").stdout)["models"]
    assert sorted(m["digest"] for m in listed_json) == sorted({d.split(":")[1] for d in names.values()})
    assert all(m["name"].startswith("recovered/") for m in listed_json)


def test_unreadable_catalog_names_the_fix_and_rebuild_moves_it_aside(
    store: tuple[Path, dict[str, str]],
) -> None:
    root, names = store
    (root / "catalog.db").write_bytes(b"this is not a database" * 100)
    out = run(root, "list")
    assert out.returncode != 0 and "verify --rebuild-catalog" in out.stderr
    rebuilt = run(root, "verify", "--rebuild-catalog")
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert list(root.glob("catalog.db.damaged-*"))
    listed = json.loads(run(root, "list", "--json").stdout)["models"]
    assert sorted(m["name"] for m in listed) == sorted(names)


def test_lost_postgresql_catalog_is_refused_and_rebuilt(tmp_path: Path, postgres_url: str) -> None:
    """The same on PostgreSQL: a store pointed at a new, empty database is a lost catalog."""
    from tests.support.postgres import fresh_database

    root = tmp_path / "store"
    lib = Library.open(root, fresh_database(postgres_url))
    digest = make_model(lib, "pg/model:v1", weights=b"w" * 1000, system="on postgres").digest
    lib.close()
    empty = fresh_database(postgres_url)
    with pytest.raises(CatalogError, match="rebuild-catalog") as info:
        Library.open(root, empty)
    assert "***" in str(info.value) or "@" not in str(info.value)  # the URL is named, never a password
    lib = Library.open(root, empty, allow_lost_catalog=True)
    try:
        with pytest.raises(CatalogError, match="prune refused"):
            lib.prune(grace_seconds=0)
        report = lib.rebuild_catalog()
        assert [(str(n), d) for n, d in report.recovered] == [("registry.ollama.ai/pg/model:v1", digest)]
        assert lib.model_info(N("pg/model:v1")).system == "on postgres"
        assert lib.verify().ok
    finally:
        lib.close()


def test_a_damaged_index_is_no_reason_to_prune_and_rebuild_names_by_digest(
    store: tuple[Path, dict[str, str]],
) -> None:
    root, names = store
    (root / "index.json").write_text("{ damaged")
    damage(root, "delete")
    before = files_under(root)
    assert run(root, "prune", "--grace", "0").returncode != 0
    assert files_under(root) == before
    rebuilt = run(root, "verify", "--rebuild-catalog")
    assert rebuilt.returncode == 0 and "index: " in rebuilt.stdout, rebuilt
    listed = json.loads(run(root, "list", "--json").stdout)["models"]
    assert sorted(m["digest"] for m in listed) == sorted({d.split(":")[1] for d in names.values()})
    assert json.loads((root / "index.json").read_text())["manifests"]  # rewritten whole
