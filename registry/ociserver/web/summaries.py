"""Value types of the web page's data, each with the JSON shape ``/ui/api/...`` serves."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from registry.errors import InvalidInput
from registry.oci import mediatypes
from registry.oci.manifest import ManifestDocument

__all__ = [
    "BlobRef",
    "MirrorPage",
    "ModelDetail",
    "ModelFacts",
    "RepoPage",
    "RepoSummary",
    "TagInfo",
    "TextLayer",
    "blobs_of",
    "summarize",
]


@dataclass(frozen=True, slots=True)
class BlobRef:
    """A config or layer a manifest names (for an index: a child manifest)."""

    media_type: str
    digest: str
    size: int


def blobs_of(content: bytes, media_type: str) -> tuple[BlobRef, ...]:
    """The config and layers of a stored manifest (children of an index); empty when unreadable."""
    try:
        doc = ManifestDocument.parse(content, media_type)
    except InvalidInput:
        return ()
    descriptors = [doc.config] if doc.config is not None else []
    descriptors += list(doc.layers) + list(doc.manifests)
    return tuple(BlobRef(d.media_type, str(d.digest), d.size) for d in descriptors)


@dataclass(frozen=True, slots=True)
class TagInfo:
    """One tag: its manifest digest, the total size it names, and its times (UNIX seconds).

    ``cached_bytes`` is set on a mirror only: how many of those bytes the mirror holds.
    """

    tag: str
    digest: str
    size: int
    pushed_at: float
    refreshed_at: float
    blobs: tuple[BlobRef, ...]
    cached_bytes: int | None = None

    def to_json(self) -> dict[str, Any]:
        """The tag as ``/ui/api`` shows it."""
        out: dict[str, Any] = {
            "tag": self.tag,
            "digest": self.digest,
            "size": self.size,
            "pushed_at": self.pushed_at,
            "refreshed_at": self.refreshed_at,
        }
        if self.cached_bytes is not None:
            out["cached_bytes"] = self.cached_bytes
        return out


@dataclass(frozen=True, slots=True)
class RepoSummary:
    """A repository on the list page: its tags, newest push and the size of its distinct blobs."""

    name: str
    tags: tuple[TagInfo, ...]
    newest_push: float | None
    total_size: int

    def to_json(self) -> dict[str, Any]:
        """The repository as ``/ui/api/models`` shows it."""
        return {
            "name": self.name,
            "tags": [t.tag for t in self.tags],
            "newest_push": self.newest_push,
            "total_size": self.total_size,
        }


def summarize(name: str, tags: tuple[TagInfo, ...]) -> RepoSummary:
    """A repository's summary from its tags (blobs shared by several tags count once)."""
    sizes: dict[str, int] = {}
    for tag in tags:
        for blob in tag.blobs:
            sizes[blob.digest] = blob.size
    newest = max((t.pushed_at for t in tags), default=None)
    return RepoSummary(name, tags, newest, sum(sizes.values()))


@dataclass(frozen=True, slots=True)
class RepoPage:
    """One page of the (filtered) repository list."""

    repos: tuple[RepoSummary, ...]
    total: int
    page: int
    pages: int
    per_page: int
    query: str

    def to_json(self) -> dict[str, Any]:
        """The page as ``/ui/api/models`` shows it."""
        return {
            "models": [r.to_json() for r in self.repos],
            "total": self.total,
            "page": self.page,
            "pages": self.pages,
            "per_page": self.per_page,
            "query": self.query,
        }


@dataclass(frozen=True, slots=True)
class MirrorPage:
    """One page of the mirror view: cached repositories with every tag's refresh time."""

    upstream: str
    repos: RepoPage

    def to_json(self) -> dict[str, Any]:
        """The page as ``/ui/api/mirror`` shows it."""
        out = self.repos.to_json()
        out["upstream"] = self.upstream
        out["models"] = [{**r.to_json(), "tags": [t.to_json() for t in r.tags]} for r in self.repos.repos]
        return out


@dataclass(frozen=True, slots=True)
class ModelFacts:
    """What a model is, from its config blob and its GGUF header (None: not known)."""

    format: str | None = None
    family: str | None = None
    architecture: str | None = None
    parameter_size: str | None = None
    parameter_count: int | None = None
    quantization: str | None = None
    context_length: int | None = None

    def to_json(self) -> dict[str, Any]:
        """The facts as ``/ui/api/models/NAME`` shows them."""
        return {
            "format": self.format,
            "family": self.family,
            "architecture": self.architecture,
            "parameter_size": self.parameter_size,
            "parameter_count": self.parameter_count,
            "quantization": self.quantization,
            "context_length": self.context_length,
        }


#: Layers shown as text, by media type: the label the page gives them.
TEXT_LAYERS = {
    mediatypes.OLLAMA_TEMPLATE: "template",
    mediatypes.OLLAMA_PROMPT: "template",
    mediatypes.OLLAMA_SYSTEM: "system",
    mediatypes.OLLAMA_PARAMS: "params",
    mediatypes.OLLAMA_LICENSE: "license",
}


@dataclass(frozen=True, slots=True)
class TextLayer:
    """A template, system, params or license layer; ``text`` is None when the bytes are not here
    (a mirror that has not fetched them yet)."""

    kind: str
    digest: str
    size: int
    text: str | None
    truncated: bool = False

    def to_json(self) -> dict[str, Any]:
        """The layer as ``/ui/api/models/NAME`` shows it."""
        return {
            "kind": self.kind,
            "digest": self.digest,
            "size": self.size,
            "text": self.text,
            "truncated": self.truncated,
        }


@dataclass(frozen=True, slots=True)
class ModelDetail:
    """A model page: every tag, and the facts and text layers of the selected one."""

    name: str
    tags: tuple[TagInfo, ...]
    selected: TagInfo | None
    facts: ModelFacts
    texts: tuple[TextLayer, ...]

    def to_json(self) -> dict[str, Any]:
        """The model as ``/ui/api/models/NAME`` shows it."""
        return {
            "name": self.name,
            "tags": [t.to_json() for t in self.tags],
            "selected": None if self.selected is None else self.selected.tag,
            "facts": self.facts.to_json(),
            "layers": [layer.to_json() for layer in self.texts],
        }
