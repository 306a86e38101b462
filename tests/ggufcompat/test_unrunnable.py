"""The one table of Ollama families llama.cpp cannot run: what pull reads from a config blob."""

from __future__ import annotations

from registry.ggufcompat.unrunnable import UNRUNNABLE_FAMILIES, family_refusal


def test_model_family_or_any_of_model_families_refuses() -> None:
    assert family_refusal({"model_family": "mllama"}) == UNRUNNABLE_FAMILIES["mllama"]
    assert family_refusal({"model_family": "llama", "model_families": ["llama", "mllama"]}) is not None


def test_runnable_and_malformed_configs_refuse_nothing() -> None:
    assert family_refusal({"model_family": "gemma3", "model_families": ["gemma3"]}) is None
    assert family_refusal({"model_family": "glmocr"}) is None  # translated since the FFN fuse
    assert family_refusal({"model_family": 3, "model_families": "mllama"}) is None
    assert family_refusal({}) is None


def test_every_refusal_names_an_alternative() -> None:
    assert all("instead" in reason for reason in UNRUNNABLE_FAMILIES.values())
