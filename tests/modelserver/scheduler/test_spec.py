"""ModelSpec: typed values, the runner's identity, and its wire form (runner.protocol.LoadOptions)."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

from registry.modelserver.scheduler import KeepAlive, LoadSettings, ModelSpec
from registry.oci.digest import Digest
from registry.oci.name import ModelName
from runner.protocol import LoadOptions

FILE_FIELDS = {"model", "adapters", "projectors"}


def _spec(**overrides: object) -> ModelSpec:
    values: dict[str, object] = {
        "name": ModelName.parse("m"),
        "digest": Digest("0" * 64),
        "size": 1,
        "details": {},
        "weights": Path("/blobs/w"),
        "adapters": (Path("/blobs/a1"), Path("/blobs/a2")),
        "projectors": (Path("/blobs/p"),),
    }
    values.update(overrides)
    return ModelSpec(**values)  # type: ignore[arg-type]


def test_load_settings_are_load_options_less_the_files() -> None:
    assert {f.name for f in fields(LoadSettings)} == {f.name for f in fields(LoadOptions)} - FILE_FIELDS
    assert _spec(adapters=(), projectors=()).load_options() == LoadOptions(model="/blobs/w")


def test_load_options_carry_the_paths_as_strings() -> None:
    options = _spec(settings=LoadSettings(num_ctx=128, parallel=2)).load_options()
    assert options.model == "/blobs/w"
    assert options.adapters == ("/blobs/a1", "/blobs/a2") and options.projectors == ("/blobs/p",)
    assert options.num_ctx == 128 and options.parallel == 2


def test_a_runner_is_identified_by_its_files_and_reused_for_equal_settings() -> None:
    spec = _spec()
    assert spec.key == (Path("/blobs/w"), (Path("/blobs/a1"), Path("/blobs/a2")), (Path("/blobs/p"),))
    assert spec.loads_like(_spec(name=ModelName.parse("other"), keep_alive=KeepAlive(5)))
    assert not spec.loads_like(_spec(settings=LoadSettings(num_ctx=8)))
    assert not spec.loads_like(_spec(adapters=()))


def test_keep_alive_zero_unloads_now() -> None:
    assert KeepAlive(0).unloads_now and KeepAlive(0.0).unloads_now
    assert not KeepAlive(None).unloads_now and not KeepAlive(1.5).unloads_now
