"""Media type strings: OCI, Docker v2 schema 2, and Ollama's layer types."""

from __future__ import annotations

__all__ = [
    "DOCKER_CONFIG",
    "DOCKER_MANIFEST",
    "MANIFEST_TYPES",
    "OCI_CONFIG",
    "OCI_INDEX",
    "OCI_MANIFEST",
    "OLLAMA_ADAPTER",
    "OLLAMA_LICENSE",
    "OLLAMA_MESSAGES",
    "OLLAMA_MODEL",
    "OLLAMA_PARAMS",
    "OLLAMA_PROJECTOR",
    "OLLAMA_PROMPT",
    "OLLAMA_SYSTEM",
    "OLLAMA_TEMPLATE",
    "OLLAMA_TENSOR",
]

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"

#: Manifest media types we store and serve as single-image manifests.
MANIFEST_TYPES = frozenset({DOCKER_MANIFEST, OCI_MANIFEST})
#: Index types (multi-platform lists); stored and served by the registry server, never run locally.
INDEX_TYPES = frozenset({OCI_INDEX, DOCKER_MANIFEST_LIST})

OLLAMA_MODEL = "application/vnd.ollama.image.model"
OLLAMA_ADAPTER = "application/vnd.ollama.image.adapter"
OLLAMA_PROJECTOR = "application/vnd.ollama.image.projector"
OLLAMA_TEMPLATE = "application/vnd.ollama.image.template"
OLLAMA_PROMPT = "application/vnd.ollama.image.prompt"  # legacy alias of template
OLLAMA_SYSTEM = "application/vnd.ollama.image.system"
OLLAMA_PARAMS = "application/vnd.ollama.image.params"
OLLAMA_MESSAGES = "application/vnd.ollama.image.messages"
OLLAMA_LICENSE = "application/vnd.ollama.image.license"
OLLAMA_EMBED = "application/vnd.ollama.image.embed"  # deprecated
OLLAMA_DRAFT = "application/vnd.ollama.image.draft"
OLLAMA_TENSOR = "application/vnd.ollama.image.tensor"  # safetensors/MLX: no GGUF runner can serve it
OLLAMA_JSON = "application/vnd.ollama.image.json"
