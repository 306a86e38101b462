"""Ollama layouts that no llama.cpp build ollama-py can use runs, with the reason and the way out.

``UNRUNNABLE_FAMILIES`` is refused by ``pull`` from the model's config blob (its
``model_family``/``model_families``) before any weights are downloaded, and at load time by the
architecture handlers (for a blob that reached the store another way): one table, so both say the
same words. ``LAYOUT_REFUSALS`` holds what only the weights' header can reveal (a family that
usually runs, in a layout the translation cannot fix); the handlers raise those at load time.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["LAYOUT_REFUSALS", "UNRUNNABLE_FAMILIES", "family_refusal"]

#: Ollama architecture / model family -> why llama.cpp cannot run it, and what to use instead.
UNRUNNABLE_FAMILIES: Mapping[str, str] = {
    "mllama": (
        "its architecture mllama (Llama 3.2 Vision, as Ollama converts it) does not exist in "
        "llama.cpp, so no GGUF engine but Ollama's own runs it; use a llama.cpp-converted "
        "vision model such as gemma3 or qwen2.5vl instead"
    ),
}

#: Layouts only the GGUF header reveals, refused at load time.
LAYOUT_REFUSALS: Mapping[str, str] = {
    "glmocr": (
        "this GLM-OCR blob stores its FFN gate and up halves in a layout that cannot be laid out as "
        "llama.cpp's single ffn_up tensor (different types or shapes); create the model from a "
        "llama.cpp-converted GLM-OCR GGUF instead"
    ),
}


def family_refusal(config: Mapping[str, object]) -> str | None:
    """Why the model whose config blob is ``config`` cannot run, or None when nothing in its
    ``model_family``/``model_families`` is known to be unrunnable."""
    families: list[str] = []
    family = config.get("model_family")
    if isinstance(family, str):
        families.append(family)
    listed = config.get("model_families")
    if isinstance(listed, list):
        families += [f for f in listed if isinstance(f, str)]
    return next((UNRUNNABLE_FAMILIES[f] for f in families if f in UNRUNNABLE_FAMILIES), None)
