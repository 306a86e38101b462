"""Issue 10 item 3 through the model server: ``ollama-py serve`` (a subprocess, ``OLLAMA_NOPRUNE``
unset) over a store whose ``catalog.db`` was deleted or truncated.

At start the server refuses to run, naming the problem and the fix; a catalog that breaks under a
running server is a 503 with the reason, never an empty model list; no blob is ever deleted.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from registry.store.library import Library
from tests.support.models import make_model
from tests.support.serve_process import ServeProcess, cli, cli_env, free_port


def _store(root: Path) -> dict[str, bytes]:
    library = Library.open(root)
    make_model(library, "llama3.2", weights=b"W" * 200_000, template="{{ .Prompt }}", system="Be brief.")
    make_model(library, "me/tiny:q8", weights=b"tiny", params={"stop": ["<x>"]})
    library.close()
    return _blobs(root)


def _blobs(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in (root / "blobs").rglob("*") if p.is_file()}


def _env(tmp_path: Path) -> dict[str, str]:
    env = cli_env(tmp_path / "store", tmp_path, OLLAMA_HOST=f"127.0.0.1:{free_port()}")
    env.pop("OLLAMA_NOPRUNE", None)  # the server may prune as it pleases
    return env


def _get(env: dict[str, str], path: str) -> tuple[int, dict[str, object]]:
    try:
        with urllib.request.urlopen(f"http://{env['OLLAMA_HOST']}{path}", timeout=30) as r:
            return int(r.status), json.loads(r.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def _delete_catalog(root: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{root / 'catalog.db'}{suffix}").unlink(missing_ok=True)


@pytest.mark.parametrize("how", ["delete", "truncate"])
def test_serve_refuses_to_start_on_a_lost_catalog_and_deletes_nothing(tmp_path: Path, how: str) -> None:
    root = tmp_path / "store"
    before = _store(root)
    if how == "delete":
        _delete_catalog(root)
    else:
        (root / "catalog.db").write_bytes(b"")
    env = _env(tmp_path)
    server = ServeProcess(env)
    try:
        assert server.wait(60) == 1
    finally:
        server.stop()
    assert not server.listening
    assert "catalog" in server.text() and "verify --rebuild-catalog" in server.text(), server.text()
    assert _blobs(root) == before
    for args in (("list",), ("prune",), ("prune", "--grace", "0")):
        out = cli(env, *args)
        assert out.returncode == 1 and "verify --rebuild-catalog" in out.stderr, (args, out)
    assert _blobs(root) == before
    rebuilt = cli(env, "verify", "--rebuild-catalog")
    assert rebuilt.returncode == 0, rebuilt.stderr
    server = ServeProcess(env)  # and now it serves every model again
    try:
        assert server.listening, server.text()
        status, body = _get(env, "/api/tags")
        assert status == 200
        assert sorted(m["name"] for m in body["models"]) == ["llama3.2:latest", "me/tiny:q8"]  # type: ignore[attr-defined, index]
    finally:
        server.stop()
    assert _blobs(root) == before


def test_catalog_damaged_under_a_running_server_is_503_never_an_empty_list(tmp_path: Path) -> None:
    root = tmp_path / "store"
    before = _store(root)
    env = _env(tmp_path)
    server = ServeProcess(env)
    try:
        assert server.listening, server.text()
        status, body = _get(env, "/api/tags")
        assert status == 200 and len(body["models"]) == 2  # type: ignore[arg-type]
        with open(root / "catalog.db", "r+b") as f:
            f.truncate(0)
        status, body = _get(env, "/api/tags")
        assert status == 503, body
        assert "catalog" in str(body["error"])
        request = urllib.request.Request(
            f"http://{env['OLLAMA_HOST']}/api/delete", data=b'{"model": "llama3.2"}', method="DELETE"
        )
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(request, timeout=30)
        assert info.value.code == 503
        ran = cli(env, "run", "llama3.2", "hello")
        assert ran.returncode == 1 and "catalog" in ran.stderr, ran
        assert server.proc.poll() is None
    finally:
        server.stop()
    assert _blobs(root) == before
