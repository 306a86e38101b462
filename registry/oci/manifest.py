"""Image manifests (Docker v2 schema 2 and OCI) as parsed, immutable documents.

A :class:`Manifest` always keeps the exact bytes it was parsed from (``raw``): the digest of a
manifest is the sha256 of those bytes, so we never re-serialise a manifest we received. Manifests we
create are serialised once by :func:`build_manifest` (compact JSON plus a trailing newline, as Ollama's
``json.Encoder`` writes them) and from then on travel as bytes too.

Unknown layer media types and unknown fields are kept (they are in ``raw``); only the fields we use
are lifted into :class:`Descriptor` values.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from registry.bounded_json import JsonTooDeep, loads_bounded
from registry.errors import InvalidDigest, InvalidManifest
from registry.oci import mediatypes
from registry.oci.digest import Digest, sha256_of

__all__ = ["MAX_MANIFEST_BYTES", "Descriptor", "Manifest", "build_manifest"]

#: Manifests above this size are refused (the OCI spec suggests registries accept at least 4 MiB).
MAX_MANIFEST_BYTES = 4 * 1024 * 1024

#: A manifest nested deeper than this is invalid (a real one nests four levels).
MAX_MANIFEST_NESTING = 64


@dataclass(frozen=True, slots=True)
class Descriptor:
    """A content descriptor: what a manifest says about one blob."""

    media_type: str
    digest: Digest
    size: int
    extra: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, obj: object, where: str) -> Descriptor:
        """Parse a descriptor object; ``where`` names it in errors (e.g. ``"layers[2]"``).

        Raises:
            InvalidManifest: when a field is missing or of the wrong type.
        """
        if not isinstance(obj, dict):
            raise InvalidManifest(f"invalid manifest: {where} is not an object")
        media_type = obj.get("mediaType")
        size = obj.get("size")
        digest_text = obj.get("digest")
        if not isinstance(media_type, str) or not media_type:
            raise InvalidManifest(f"invalid manifest: {where}.mediaType is missing")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise InvalidManifest(f"invalid manifest: {where}.size must be a non-negative integer")
        if not isinstance(digest_text, str):
            raise InvalidManifest(f"invalid manifest: {where}.digest is missing")
        try:
            digest = Digest.parse(digest_text)
        except InvalidDigest as err:
            raise InvalidManifest(f"invalid manifest: {where}.digest: {err}") from err
        extra = {k: v for k, v in obj.items() if k not in ("mediaType", "digest", "size")}
        return cls(media_type=media_type, digest=digest, size=size, extra=extra)

    def to_json(self) -> dict[str, Any]:
        """The JSON object for this descriptor (known fields first, then any extra fields)."""
        out: dict[str, Any] = {"mediaType": self.media_type, "digest": str(self.digest), "size": self.size}
        out.update(self.extra)
        return out


@dataclass(frozen=True, slots=True)
class Manifest:
    """A single-image manifest with its exact bytes.

    ``config`` is ``None`` only for index documents (``layers`` is then the list of ``manifests``).
    """

    raw: bytes
    media_type: str
    config: Descriptor | None
    layers: tuple[Descriptor, ...]
    subject: Descriptor | None = None
    artifact_type: str | None = None
    annotations: Mapping[str, str] = field(default_factory=dict)

    @property
    def digest(self) -> Digest:
        """sha256 of the exact bytes."""
        return sha256_of(self.raw)

    @property
    def is_index(self) -> bool:
        """True for an OCI index / Docker manifest list."""
        return self.media_type in mediatypes.INDEX_TYPES

    @property
    def total_size(self) -> int:
        """Sum of the config and layer sizes (what ``ollama list`` shows as SIZE)."""
        return (self.config.size if self.config else 0) + sum(layer.size for layer in self.layers)

    def blobs(self) -> Iterator[Descriptor]:
        """The config (if any) and then every layer, in manifest order."""
        if self.config is not None:
            yield self.config
        yield from self.layers

    def layers_of(self, media_type: str) -> list[Descriptor]:
        """The layers with the given media type, in order."""
        return [layer for layer in self.layers if layer.media_type == media_type]

    @classmethod
    def parse(cls, raw: bytes, content_type: str | None = None) -> Manifest:
        """Parse manifest bytes. ``content_type`` (from HTTP) wins over a missing ``mediaType`` field.

        Raises:
            InvalidManifest: for bad JSON, a wrong schemaVersion, or malformed descriptors.
        """
        if len(raw) > MAX_MANIFEST_BYTES:
            raise InvalidManifest(
                f"invalid manifest: {len(raw)} bytes is over the {MAX_MANIFEST_BYTES} limit"
            )
        try:
            doc = loads_bounded(raw, MAX_MANIFEST_NESTING, strict_numbers=False)
        except JsonTooDeep as err:
            raise InvalidManifest(f"invalid manifest: {err}") from err
        except ValueError as err:  # JSONDecodeError, bad UTF-8, an int of 5,000 digits
            raise InvalidManifest(f"invalid manifest: not valid JSON ({err})") from err
        if not isinstance(doc, dict):
            raise InvalidManifest("invalid manifest: the document is not a JSON object")
        if doc.get("schemaVersion") != 2:
            raise InvalidManifest("invalid manifest: schemaVersion must be 2")
        media_type = doc.get("mediaType")
        if media_type is None:
            media_type = _guess_media_type(doc, content_type)
        if not isinstance(media_type, str):
            raise InvalidManifest("invalid manifest: mediaType must be a string")
        if content_type and content_type in mediatypes.MANIFEST_TYPES | mediatypes.INDEX_TYPES:
            if content_type != media_type:
                raise InvalidManifest(
                    f"invalid manifest: mediaType {media_type!r} does not match Content-Type {content_type!r}"
                )
        subject = Descriptor.from_json(doc["subject"], "subject") if "subject" in doc else None
        annotations = doc.get("annotations") or {}
        if not isinstance(annotations, dict):
            raise InvalidManifest("invalid manifest: annotations must be an object")
        artifact_type = doc.get("artifactType")
        if media_type in mediatypes.INDEX_TYPES:
            entries = _descriptor_list(doc.get("manifests"), "manifests")
            return cls(raw, media_type, None, entries, subject, artifact_type, annotations)
        if media_type not in mediatypes.MANIFEST_TYPES:
            raise InvalidManifest(f"invalid manifest: unsupported manifest media type {media_type!r}")
        config = Descriptor.from_json(doc.get("config"), "config")
        layers = _descriptor_list(doc.get("layers", []), "layers")
        return cls(raw, media_type, config, layers, subject, artifact_type, annotations)


def _guess_media_type(doc: Mapping[str, Any], content_type: str | None) -> str:
    if content_type in mediatypes.MANIFEST_TYPES | mediatypes.INDEX_TYPES:
        return str(content_type)
    if "manifests" in doc:
        return mediatypes.OCI_INDEX
    return mediatypes.OCI_MANIFEST


def _descriptor_list(value: object, where: str) -> tuple[Descriptor, ...]:
    if not isinstance(value, list):
        raise InvalidManifest(f"invalid manifest: {where} must be a list")
    return tuple(Descriptor.from_json(item, f"{where}[{i}]") for i, item in enumerate(value))


def build_manifest(
    config: Descriptor,
    layers: Sequence[Descriptor],
    media_type: str = mediatypes.DOCKER_MANIFEST,
) -> Manifest:
    """Serialise a new manifest the way Ollama writes them (compact JSON, trailing newline).

    Identical inputs give identical bytes, hence identical digests.
    """
    doc = {
        "schemaVersion": 2,
        "mediaType": media_type,
        "config": config.to_json(),
        "layers": [layer.to_json() for layer in layers],
    }
    raw = (json.dumps(doc, separators=(",", ":")) + "\n").encode()
    return Manifest(raw, media_type, config, tuple(layers))
