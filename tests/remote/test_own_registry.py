"""ollama-py's own client against ollama-py's own registry server, both real, on loopback:
push, pull into a second store, chunked uploads, cross-repository mounts and re-pushes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest

from registry.oci.name import ModelName
from registry.ociserver.settings import ServerSettings
from registry.remote.pull import pull_model
from registry.remote.push import push_model
from registry.store.library import Library, Progress
from tests.remote.helpers import FAST, weights
from tests.support.models import make_model
from tests.support.registry_server import RunningRegistry, start_registry


@pytest.fixture
async def registry(tmp_path: Path) -> AsyncIterator[RunningRegistry]:
    running = await start_registry(ServerSettings(root=tmp_path / "registry", port=0))
    yield running
    await running.stop()


async def _events(stream: AsyncIterator[Progress]) -> list[str]:
    return [event.status async for event in stream]


async def test_push_then_pull_into_another_store(registry: RunningRegistry, tmp_path: Path) -> None:
    source = Library.open(tmp_path / "a")
    target = Library.open(tmp_path / "b")
    body = weights(40 << 20, seed=3)  # five 8 MiB PATCH chunks
    make_model(source, f"{registry.host}/team/model:v1", weights=body, system="sys", params={"stop": ["x"]})
    name = ModelName.parse(f"{registry.host}/team/model:v1")
    options = replace(FAST, part_size=8 << 20, monolithic_limit=1 << 20, upload_chunk=8 << 20)
    pushed = await _events(push_model(source, name, insecure=True, options=options))
    assert pushed[0] == "retrieving manifest" and pushed[-2:] == ["pushing manifest", "success"]
    pulled = await _events(pull_model(target, name, insecure=True, options=options))
    assert pulled[0] == "pulling manifest" and pulled[-1] == "success"
    assert "verifying sha256 digest" in pulled and "writing manifest" in pulled
    assert target.get_model(name).manifest.digest == source.get_model(name).manifest.digest
    info = target.model_info(name)
    assert info.model_path is not None and info.model_path.read_bytes() == body
    assert info.system == "sys" and info.parameters == {"stop": ["x"]}
    assert target.verify().ok
    # Pushing again sends only the manifest; a second repository gets the layers by mount.
    again = await _events(push_model(source, name, insecure=True, options=options))
    assert again[-1] == "success"
    other = ModelName.parse(f"{registry.host}/other/model:v1")
    source.copy(name, other)
    assert (await _events(push_model(source, other, insecure=True, options=options)))[-1] == "success"
    assert (await _events(pull_model(target, other, insecure=True, options=options)))[-1] == "success"
    assert target.get_model(other).manifest.digest == target.get_model(name).manifest.digest
    source.close()
    target.close()


async def test_pull_of_a_missing_model_changes_nothing(registry: RunningRegistry, tmp_path: Path) -> None:
    from registry.errors import OllamaPyError

    target = Library.open(tmp_path / "b")
    with pytest.raises(OllamaPyError, match="file does not exist"):
        await _events(pull_model(target, ModelName.parse(f"{registry.host}/no/such:tag"), insecure=True))
    assert target.list_models() == [] and target.verify().ok
    target.close()
