"""GGUF metadata: a fast header reader and the facts Ollama shows (details, model_info, capabilities)."""

from registry.ggufmeta.metadata import GgufMetadata, file_type_name, human_number, read_metadata
from registry.ggufmeta.reader import GgufHeader, TensorInfo, read_gguf_header

__all__ = [
    "GgufHeader",
    "GgufMetadata",
    "TensorInfo",
    "file_type_name",
    "human_number",
    "read_gguf_header",
    "read_metadata",
]
