"""The official OCI distribution-spec conformance suite (issue 12) against ``ollama-py registry
serve`` (a subprocess) with auth off, bearer and basic (``anonymous_pull = false``; the suite logs
in with OCI_USERNAME/OCI_PASSWORD and follows the token challenges). Every run must report 0 failures.

The suite is ``tests/ociserver/conformance/conformance-head.zst`` (vendored, see its README; or the
path in ``OCI_CONFORMANCE``, packed or not): opencontainers/distribution-spec at commit 967efdc, built
for linux/amd64, unpacked with the ``zstandard`` package. It is skipped only off linux/amd64.
"""

from __future__ import annotations

import os
import platform
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import zstandard

from tests.support.checkout_env import ROOT
from tests.support.registry_process import RegistryProcess, locked_down_config

_SUITE = ROOT / "tests" / "ociserver" / "conformance" / "conformance-head.zst"


def _packed_suite() -> Path:
    named = os.environ.get("OCI_CONFORMANCE")
    return Path(named) if named else _SUITE


@pytest.fixture(scope="module")
def suite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The runnable conformance program (unpacked once per module)."""
    packed = _packed_suite()
    if platform.system() != "Linux" or platform.machine() not in ("x86_64", "AMD64"):
        pytest.skip("the OCI conformance suite is built for linux/amd64")
    if packed.suffix != ".zst":
        return packed
    program = tmp_path_factory.mktemp("oci-conformance") / "conformance"
    with packed.open("rb") as source, program.open("wb") as target:
        zstandard.ZstdDecompressor().copy_stream(source, target)
    program.chmod(0o755)
    return program


@pytest.fixture(params=["off", "bearer", "basic"])
def registry(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[RegistryProcess, str]]:
    """The registry with auth off, or with bearer or basic auth and no anonymous pull (user alice)."""
    args = ["--root", str(tmp_path / "registry")]
    if request.param != "off":
        config = locked_down_config(tmp_path / "registry.toml", request.param)
        args += ["--config", str(config)]
    process = RegistryProcess(*args)
    try:
        yield process, request.param
    finally:
        process.stop()


def test_the_oci_conformance_suite_reports_no_failure(
    suite: Path, registry: tuple[RegistryProcess, str], tmp_path: Path
) -> None:
    process, scheme = registry
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "OCI_ROOT_URL": process.url,
        "OCI_NAMESPACE": "myorg/myrepo",
        "OCI_CROSSMOUNT_NAMESPACE": "myorg/other",
        "OCI_TEST_PULL": "1",
        "OCI_TEST_PUSH": "1",
        "OCI_TEST_CONTENT_DISCOVERY": "1",
        "OCI_TEST_CONTENT_MANAGEMENT": "1",
        "OCI_RESULTS_DIR": str(tmp_path / "report"),
    }
    if scheme != "off":
        env |= {"OCI_USERNAME": "alice", "OCI_PASSWORD": "secret"}
    out = subprocess.run([str(suite)], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    text = out.stdout + out.stderr
    counts = {
        name: int(value)
        for name, value in re.findall(r"^\s*(Pass|FAIL|Error|Skip|Total)\.+:\s+(\d+)\s*$", text, re.M)
    }
    failed = [line.strip() for line in text.splitlines() if line.rstrip().lower().endswith(": fail")]
    print(f"OCI conformance, auth {scheme}: {counts}")  # the figure, in the test log
    assert "OCI Conformance Result: Pass" in text, (counts, failed[:30], text[-3000:])
    assert counts.get("FAIL") == 0 and counts.get("Error") == 0, (counts, failed[:30])
    assert counts.get("Pass", 0) > 800, counts
