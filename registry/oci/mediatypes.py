"""The OCI and Docker vocabulary every program shares: media types, the annotation naming a model, and
the media type grammar.

This is the one list: no other module spells an ``application/vnd.*`` string or groups these types.
"""

from __future__ import annotations

import re

__all__ = [
    "ACCEPTED_MANIFEST_TYPES",
    "DOCKER_CONFIG",
    "DOCKER_MANIFEST",
    "DOCKER_MANIFEST_LIST",
    "INDEX_TYPES",
    "MANIFEST_TYPES",
    "OCI_CONFIG",
    "OCI_EMPTY",
    "OCI_INDEX",
    "OCI_MANIFEST",
    "OLLAMA_ADAPTER",
    "OLLAMA_DRAFT",
    "OLLAMA_EMBED",
    "OLLAMA_JSON",
    "OLLAMA_LICENSE",
    "OLLAMA_MESSAGES",
    "OLLAMA_MODEL",
    "OLLAMA_PARAMS",
    "OLLAMA_PROJECTOR",
    "OLLAMA_PROMPT",
    "OLLAMA_SYSTEM",
    "OLLAMA_TEMPLATE",
    "OLLAMA_TENSOR",
    "REF_NAME",
    "is_media_type",
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
#: Every manifest type a client reads, in the order it asks for them (the ``Accept`` header): Docker
#: v2 first, the only one Ollama's registry serves.
ACCEPTED_MANIFEST_TYPES = (DOCKER_MANIFEST, OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST_LIST)

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

#: The OCI annotation that names a manifest in an image layout's ``index.json`` (the store's name
#: index and the archives both use it; the value is a full model name).
REF_NAME = "org.opencontainers.image.ref.name"

#: RFC 6838 ``type/subtype`` (restricted names), optionally with parameters in visible ASCII.
_MEDIA_TYPE_RE = re.compile(
    r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}(?: *;[\x20-\x7e]{0,255})?"
)


def is_media_type(text: str) -> bool:
    """True when ``text`` is an RFC 6838 media type (``type/subtype``, optional ASCII parameters): safe
    to send as a header and to store as text."""
    return _MEDIA_TYPE_RE.fullmatch(text) is not None
