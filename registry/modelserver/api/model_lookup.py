"""The model a request names: the ``model`` field (or the legacy ``name``) parsed into a
:class:`~registry.oci.name.ModelName`, and Ollama's "not found" wording for it."""

from __future__ import annotations

from typing import Any

from registry import errors
from registry.oci.name import ModelName

__all__ = ["model_name_field", "model_not_found"]


def model_name_field(body: dict[str, Any], *fields: str) -> tuple[str, ModelName]:
    """The model name from the first present field (``model``, then the legacy ``name``).

    Raises InvalidInput ("model is required") when none is given.
    """
    for field in fields or ("model", "name"):
        value = body.get(field)
        if isinstance(value, str) and value.strip():
            return value, ModelName.parse(value)
    raise errors.InvalidInput("model is required")


def model_not_found(text: str) -> errors.ModelNotFound:
    """``model '<text>' not found`` (404), naming the model as the client wrote it."""
    return errors.ModelNotFound(f"model '{text}' not found")
