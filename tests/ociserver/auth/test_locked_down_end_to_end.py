"""Issue 12 end to end, real processes: ``ollama-py registry serve`` with ``anonymous_pull = false``
(bearer, then basic), credentials as ``docker login`` leaves them, ``ollama-py push`` (twice: the
second finds every blob there), ``pull`` into a second store, and ``skopeo delete`` (which asks for
``repository:NAME:*`` and deletes by digest), and ``skopeo copy`` out of and into it."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from registry.store.library import Library
from tests.ociserver.test_real_clients import _oci_layout
from tests.support.models import make_model
from tests.support.registry_process import RegistryProcess, locked_down_config
from tests.support.serve_process import cli, cli_env


@pytest.fixture(params=["bearer", "basic"])
def registry(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RegistryProcess]:
    config = locked_down_config(tmp_path / "registry.toml", request.param, "team/**")
    process = RegistryProcess("--root", str(tmp_path / "registry"), "--config", str(config))
    try:
        yield process
    finally:
        process.stop()


def _login(home: Path, host: str) -> None:
    (home / "docker").mkdir(parents=True, exist_ok=True)
    auth = base64.b64encode(b"alice:secret").decode()
    (home / "docker" / "config.json").write_text(json.dumps({"auths": {host: {"auth": auth}}}))


def _manifest_status(url: str, path: str) -> int:
    auth = base64.b64encode(b"alice:secret").decode()
    repo = path.removeprefix("/v2/").split("/manifests/")[0]
    token_url = f"{url}/v2/token?service=ollama-py-registry&scope=repository:{repo}:pull"
    request = urllib.request.Request(token_url, headers={"Authorization": f"Basic {auth}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as r:
            header = f"Bearer {json.loads(r.read())['token']}"
    except urllib.error.HTTPError:
        header = f"Basic {auth}"  # the basic scheme has no token endpoint
    request = urllib.request.Request(f"{url}{path}", method="HEAD", headers={"Authorization": header})
    try:
        with urllib.request.urlopen(request, timeout=30) as r:
            return int(r.status)
    except urllib.error.HTTPError as err:
        return err.code


def _bytes_received(url: str) -> float:
    with urllib.request.urlopen(f"{url}/metrics", timeout=30) as r:
        text = r.read().decode()
    for line in text.splitlines():
        if line.startswith("registry_bytes_received_total "):
            return float(line.split()[1])
    raise AssertionError(text)


def test_push_pull_and_skopeo_delete_against_a_locked_down_registry(
    registry: RegistryProcess, tmp_path: Path
) -> None:
    host = registry.url.removeprefix("http://")
    source, home = tmp_path / "source", tmp_path / "home"
    library = Library.open(source)
    make_model(
        library,
        "m",
        weights=b"GGUF" + os.urandom(500_000),
        template="{{ .Prompt }}",
        system="locked down",
        params={"stop": ["x"]},
    )  # five blobs, sent in parallel
    library.close()
    env = cli_env(source, home)
    name = f"{host}/team/m:v1"
    assert cli(env, "cp", "m", name).returncode == 0
    anonymous = cli(env, "push", "--insecure", name)
    assert anonymous.returncode == 1 and "unauthorized" in anonymous.stderr.lower(), anonymous.stderr
    _login(home, host)
    for attempt in range(2):  # the second push finds every blob already there
        out = cli(env, "push", "--insecure", name)
        assert out.returncode == 0, (attempt, out.stderr)
    target = cli_env(tmp_path / "target", home)
    out = cli(target, "pull", "--insecure", name)
    assert out.returncode == 0, out.stderr
    assert cli(target, "show", "--system", name).stdout == "locked down\n"
    assert _manifest_status(registry.url, "/v2/team/m/manifests/v1") == 200
    # Pushed to a second repository, every blob is mounted from the first (the mount's challenge
    # names repository:team/m:pull, and the client's next token covers it): no byte is sent again.
    received = _bytes_received(registry.url)
    assert cli(env, "cp", "m", f"{host}/team/m2:v1").returncode == 0
    out = cli(env, "push", "--insecure", f"{host}/team/m2:v1")
    assert out.returncode == 0, out.stderr
    assert _bytes_received(registry.url) - received < 100_000, "blobs were uploaded again"
    skopeo = shutil.which("skopeo")
    if skopeo is None:
        pytest.skip("skopeo is not installed (scripts/setup.sh installs it)")

    def run_skopeo(*args: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "HOME": str(home)}
        return subprocess.run([skopeo, *args], capture_output=True, text=True, timeout=120, env=env)

    _oci_layout(tmp_path / "layout", "v1")
    creds = ("--src-creds", "alice:secret", "--dest-creds", "alice:secret")
    tls = ("--src-tls-verify=false", "--dest-tls-verify=false")
    for source, target in (
        (f"oci:{tmp_path / 'layout'}:v1", f"docker://{host}/team/img:v1"),
        (f"docker://{host}/team/img:v1", f"docker://{host}/team/img2:v2"),  # a cross-repo mount
        (f"docker://{host}/team/img2:v2", f"oci:{tmp_path / 'back'}:v1"),
    ):
        out = run_skopeo("copy", *tls, *creds, source, target)
        assert out.returncode == 0, (source, target, out.stderr)
    assert _manifest_status(registry.url, "/v2/team/img2/manifests/v2") == 200
    wrong = run_skopeo("delete", "--tls-verify=false", "--creds", "alice:wrong", f"docker://{name}")
    assert wrong.returncode != 0 and ("401" in wrong.stderr or "nauthorized" in wrong.stderr), wrong.stderr
    deleted = run_skopeo("delete", "--tls-verify=false", "--creds", "alice:secret", f"docker://{name}")
    assert deleted.returncode == 0, deleted.stderr
    assert _manifest_status(registry.url, "/v2/team/m/manifests/v1") == 404
