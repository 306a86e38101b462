"""The one manifest parser: OCI and Docker v2 schema 2 manifests, indexes and artifacts (pure; no I/O).

Two views of one parse:

- :meth:`ManifestDocument.parse` is the general parse the registry server needs: any document with
  ``schemaVersion: 2`` (image manifests, artifact manifests with any ``config.mediaType`` or
  ``artifactType``, indexes whose entries have unknown media types, Docker v2s2 with Ollama's layer
  types). Only the shape of descriptors is checked; layers with ``urls`` (non-distributable) are not
  blobs the registry must hold; a ``subject`` may dangle. The caller chooses the digest algorithm of
  the document and which digest spellings its descriptors may use.
- :meth:`Manifest.parse` is the model library's stricter view: an Ollama model manifest (an image
  manifest with a config, or an index the client refuses to run), at most :data:`MAX_MANIFEST_BYTES`,
  sha256 digests only (either spelling, as Ollama accepts them).

Both keep the exact bytes they were parsed from (``raw``): the digest of a manifest is the hash of those
bytes, so a received manifest is never re-serialised. Manifests we create are serialised once by
:func:`build_manifest` (compact JSON plus a trailing newline, as Ollama's ``json.Encoder`` writes them).
Unknown fields are kept (in ``raw``, and a descriptor's in its ``extra``).

Every refusal is an :class:`~registry.errors.InvalidManifest` whose message starts ``invalid manifest:``
and says what is wrong.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from registry.bounded_json import JsonTooDeep, loads_bounded
from registry.errors import InvalidDigest, InvalidManifest
from registry.oci import mediatypes
from registry.oci.digest import ALGORITHMS, Digest, sha256_of

__all__ = [
    "MAX_MANIFEST_BYTES",
    "MAX_MANIFEST_NESTING",
    "Descriptor",
    "DigestParser",
    "Manifest",
    "ManifestDocument",
    "build_manifest",
]

#: Manifests above this size are refused (the OCI spec suggests registries accept at least 4 MiB).
MAX_MANIFEST_BYTES = 4 * 1024 * 1024

#: A manifest nested deeper than this is invalid (a real one nests four levels).
MAX_MANIFEST_NESTING = 64

#: How a descriptor's ``digest`` text becomes a :class:`Digest` (:meth:`Digest.parse` for the
#: library's sha256, :meth:`Digest.parse_oci` for the registry's sha256 and sha512).
DigestParser = Callable[[str], Digest]

_OCTET_STREAM = "application/octet-stream"
#: The manifest and index types (each a ``type/subtype``, so the grammar check can skip them).
_KNOWN_TYPES = mediatypes.MANIFEST_TYPES | mediatypes.INDEX_TYPES


@dataclass(frozen=True, slots=True)
class Descriptor:
    """A content descriptor: what a manifest says about one blob (or, in an index, one manifest)."""

    media_type: str
    digest: Digest
    size: int
    extra: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, obj: object, where: str, parse_digest: DigestParser = Digest.parse) -> Descriptor:
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
            digest = parse_digest(digest_text)
        except InvalidDigest as err:
            raise InvalidManifest(f"invalid manifest: {where}.digest: {err}") from err
        extra = {k: v for k, v in obj.items() if k not in ("mediaType", "digest", "size")}
        return cls(media_type=media_type, digest=digest, size=size, extra=extra)

    @property
    def distributable(self) -> bool:
        """False for a layer with ``urls`` (non-distributable: a registry need not hold it)."""
        return not self.extra.get("urls")

    def to_json(self) -> dict[str, Any]:
        """The JSON object for this descriptor (known fields first, then any extra fields)."""
        out: dict[str, Any] = {"mediaType": self.media_type, "digest": str(self.digest), "size": self.size}
        out.update(self.extra)
        return out


@dataclass(frozen=True, slots=True)
class ManifestDocument:
    """Any manifest, index or artifact manifest, with its exact bytes and what was lifted from them.

    An index (its media type is an index type, or it has ``manifests``) has ``manifests`` and neither
    ``config`` nor ``layers``; any other document has no ``manifests``.
    """

    raw: bytes
    algorithm: str
    media_type: str
    is_index: bool
    config: Descriptor | None = None
    layers: tuple[Descriptor, ...] = ()
    manifests: tuple[Descriptor, ...] = ()
    subject: Descriptor | None = None
    artifact_type: str | None = None
    annotations: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(
        cls,
        raw: bytes,
        content_type: str | None = None,
        *,
        algorithm: str = "sha256",
        parse_digest: DigestParser = Digest.parse_oci,
    ) -> ManifestDocument:
        """Parse and check a document; its :attr:`digest` is the ``algorithm`` hash of the exact bytes.

        ``content_type`` is the Content-Type it came with (parameters stripped): the media type is the
        body's ``mediaType`` when present, else ``content_type``, else guessed from the shape (index or
        image manifest); ``application/octet-stream`` counts as no Content-Type.

        Raises:
            InvalidManifest: not JSON, nested too deep, not an object, wrong schemaVersion, media types
                disagreeing or not ``type/subtype`` (manifest and artifactType), a malformed descriptor
                or descriptor list, or annotations that are not an object.
            InvalidDigest: ``algorithm`` is not one of :data:`~registry.oci.digest.ALGORITHMS`.
        """
        if algorithm not in ALGORITHMS:
            raise InvalidDigest(f"unsupported digest algorithm {algorithm[:20]!r}")
        doc = _load_object(raw)
        media_type = _media_type(doc, content_type)
        is_index = "manifests" in doc or media_type in mediatypes.INDEX_TYPES
        config, layers, manifests = _references(doc, is_index, parse_digest)
        subject = None
        if doc.get("subject") is not None:
            subject = Descriptor.from_json(doc["subject"], "subject", parse_digest)
        artifact_type = _artifact_type(doc)
        annotations = doc.get("annotations")
        if annotations is not None and not isinstance(annotations, dict):
            raise InvalidManifest("invalid manifest: annotations must be an object")
        return cls(
            raw,
            algorithm,
            media_type,
            is_index,
            config,
            layers,
            manifests,
            subject,
            artifact_type,
            annotations or {},
        )

    @property
    def digest(self) -> Digest:
        """The ``algorithm`` hash of the exact bytes."""
        return Digest(hashlib.new(self.algorithm, self.raw).hexdigest(), self.algorithm)

    @property
    def blob_refs(self) -> tuple[Digest, ...]:
        """The blobs a registry must hold for this document (config and distributable layers), each once."""
        blobs = [self.config] if self.config is not None else []
        blobs += [layer for layer in self.layers if layer.distributable]
        return tuple(dict.fromkeys(blob.digest for blob in blobs))

    @property
    def manifest_refs(self) -> tuple[Digest, ...]:
        """The manifests an index names, each once."""
        return tuple(dict.fromkeys(entry.digest for entry in self.manifests))

    @property
    def blob_sizes(self) -> dict[Digest, int]:
        """The declared size of every blob in :attr:`blob_refs` (a later descriptor of the same blob wins)."""
        blobs = [self.config] if self.config is not None else []
        blobs += [layer for layer in self.layers if layer.distributable]
        return {blob.digest: blob.size for blob in blobs}

    @property
    def referrer_artifact_type(self) -> str | None:
        """What the referrers API reports: ``artifactType``, else the config's media type when that is a
        ``type/subtype``, else None."""
        if self.artifact_type is not None:
            return self.artifact_type
        if self.config is not None and mediatypes.is_media_type(self.config.media_type):
            return self.config.media_type
        return None


@dataclass(frozen=True, slots=True)
class Manifest:
    """A model manifest (Docker v2s2 or OCI image manifest) with its exact bytes.

    ``config`` is ``None`` only for index documents (``layers`` is then the list of ``manifests``).
    """

    raw: bytes
    media_type: str
    config: Descriptor | None
    layers: tuple[Descriptor, ...]
    subject: Descriptor | None = None
    artifact_type: str | None = None
    annotations: Mapping[str, Any] = field(default_factory=dict)

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
        """Parse a model manifest: :meth:`ManifestDocument.parse` with sha256 digests (``sha256:`` or
        ``sha256-``), then the library's rules. ``content_type`` (from HTTP) counts only when it is a
        manifest or index type (Ollama's registry may answer ``text/plain``).

        Raises:
            InvalidManifest: over :data:`MAX_MANIFEST_BYTES`, anything the general parse refuses, a
                media type that is neither a manifest nor an index type, or a manifest without a config.
        """
        if len(raw) > MAX_MANIFEST_BYTES:
            raise InvalidManifest(
                f"invalid manifest: {len(raw)} bytes is over the {MAX_MANIFEST_BYTES} limit"
            )
        doc = ManifestDocument.parse(
            raw, content_type if content_type in _KNOWN_TYPES else None, parse_digest=Digest.parse
        )
        if doc.media_type in mediatypes.INDEX_TYPES:
            entries = doc.manifests
            return cls(raw, doc.media_type, None, entries, doc.subject, doc.artifact_type, doc.annotations)
        if doc.media_type not in mediatypes.MANIFEST_TYPES:
            raise InvalidManifest(f"invalid manifest: unsupported manifest media type {doc.media_type!r}")
        if doc.config is None:
            raise InvalidManifest("invalid manifest: config is not an object")
        return cls(
            raw, doc.media_type, doc.config, doc.layers, doc.subject, doc.artifact_type, doc.annotations
        )


def _load_object(raw: bytes) -> dict[str, Any]:
    """Decode ``raw`` as a JSON object with ``schemaVersion: 2``, refusing anything nested deeper than
    :data:`MAX_MANIFEST_NESTING` (which would otherwise exhaust the interpreter's recursion limit).

    Raises:
        InvalidManifest: not UTF-8 JSON (numbers too long to convert included), too deep, not an
            object, or another schemaVersion.
    """
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
    return doc


def _media_type(doc: Mapping[str, Any], content_type: str | None) -> str:
    """The document's media type: its ``mediaType``, else ``content_type``, else guessed from its shape.

    Raises:
        InvalidManifest: ``mediaType`` is not a string, disagrees with ``content_type``, or the result
            is not ``type/subtype`` (the registry serves it back as the Content-Type header).
    """
    body_type = doc.get("mediaType")
    if body_type is not None and not isinstance(body_type, str):
        raise InvalidManifest("invalid manifest: mediaType must be a string")
    if body_type and content_type and content_type not in (body_type, _OCTET_STREAM):
        raise InvalidManifest(
            f"invalid manifest: mediaType {body_type!r} does not match Content-Type {content_type!r}"
        )
    media_type = body_type or content_type
    if not media_type or media_type == _OCTET_STREAM:
        media_type = mediatypes.OCI_INDEX if "manifests" in doc else mediatypes.OCI_MANIFEST
    if media_type not in _KNOWN_TYPES and not mediatypes.is_media_type(media_type):
        raise InvalidManifest(f"invalid manifest: media type {media_type[:100]!r} is not a type/subtype")
    return media_type


def _artifact_type(doc: Mapping[str, Any]) -> str | None:
    """``artifactType`` when present.

    Raises:
        InvalidManifest: ``artifactType`` is present but not ``type/subtype``.
    """
    artifact_type = doc.get("artifactType")
    if artifact_type is not None and not (
        isinstance(artifact_type, str) and mediatypes.is_media_type(artifact_type)
    ):
        raise InvalidManifest(
            f"invalid manifest: artifactType {str(artifact_type)[:100]!r} is not a type/subtype"
        )
    return artifact_type


def _references(
    doc: Mapping[str, Any], is_index: bool, parse_digest: DigestParser
) -> tuple[Descriptor | None, tuple[Descriptor, ...], tuple[Descriptor, ...]]:
    """``(config, layers, manifests)``: an index's ``manifests``, else the ``config`` (absent or null:
    none) and ``layers``. Raises :class:`InvalidManifest` when one is malformed."""
    if is_index:
        return None, (), _descriptors(doc, "manifests", parse_digest)
    config = None
    if doc.get("config") is not None:
        config = Descriptor.from_json(doc["config"], "config", parse_digest)
    return config, _descriptors(doc, "layers", parse_digest), ()


def _descriptors(doc: Mapping[str, Any], key: str, parse_digest: DigestParser) -> tuple[Descriptor, ...]:
    """The descriptors of list ``key`` (absent or null: none).

    Raises:
        InvalidManifest: ``key`` is not a list, or one of its descriptors is malformed.
    """
    value = doc.get(key)
    if value is None:
        return ()
    if not isinstance(value, list):
        raise InvalidManifest(f"invalid manifest: {key} must be a list")
    return tuple(Descriptor.from_json(item, f"{key}[{i}]", parse_digest) for i, item in enumerate(value))


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
