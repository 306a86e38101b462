"""Creating models: from GGUF files in the library or from an existing model (``create``)."""

from registry.modelserver.creator.flow import create_model, known_architectures
from registry.modelserver.creator.request import QUANTIZE_TYPES, CreateRequest, normalise_quantize

__all__ = ["QUANTIZE_TYPES", "CreateRequest", "create_model", "known_architectures", "normalise_quantize"]
