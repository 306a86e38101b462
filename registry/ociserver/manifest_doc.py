"""Lift what the registry needs out of a pushed manifest's bytes (pure; no I/O).

Accepts any manifest or index with ``schemaVersion: 2`` — image manifests, artifact manifests with
arbitrary ``config.mediaType``/``artifactType``, indexes whose entries have unknown media types (BuildKit
caches), Docker v2s2 with Ollama's layer types. Only the shape of descriptors is checked; layers with
``urls`` (non-distributable) are not required to be in the registry; a ``subject`` may dangle.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from registry.bounded_json import JsonTooDeep, loads_bounded
from registry.errors import InvalidDigest, InvalidManifest
from registry.oci import mediatypes
from registry.oci.digest import Digest
from registry.oci.manifest import MAX_MANIFEST_NESTING
from registry.store.catalog import ManifestRecord

__all__ = ["descriptor_sizes", "is_media_type", "parse_manifest"]

_INDEX_TYPES = frozenset({mediatypes.OCI_INDEX, mediatypes.DOCKER_MANIFEST_LIST})

#: RFC 6838 ``type/subtype`` (restricted names), optionally with parameters in visible ASCII.
_MEDIA_TYPE_RE = re.compile(
    r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}(?: *;[\x20-\x7e]{0,255})?"
)


def parse_manifest(content: bytes, content_type: str | None, algorithm: str = "sha256") -> ManifestRecord:
    """Parse and check a manifest body; its digest is the ``algorithm`` hash of the exact bytes.

    ``content_type`` is the request's Content-Type (parameters stripped); the stored media type is the
    body's ``mediaType`` when present, else ``content_type``.

    Raises:
        InvalidManifest: not JSON, nested too deep, not an object, wrong schemaVersion, media types
            disagreeing or not ``type/subtype`` (manifest and artifactType), or a malformed descriptor.
    """
    doc = _load_json(content)
    if not isinstance(doc, dict):
        raise InvalidManifest("manifest invalid: not a JSON object")
    if doc.get("schemaVersion") != 2:
        raise InvalidManifest("manifest invalid: schemaVersion must be 2")
    media_type = _media_type(doc, content_type)
    blob_refs, manifest_refs = _references(doc, media_type)
    subject = _descriptor(doc["subject"], "subject")[0] if doc.get("subject") is not None else None
    artifact_type = _artifact_type(doc)
    annotations = doc.get("annotations")
    if annotations is not None and not isinstance(annotations, dict):
        raise InvalidManifest("manifest invalid: annotations must be an object")
    return ManifestRecord(
        digest=Digest(hashlib.new(algorithm, content).hexdigest(), algorithm),
        media_type=media_type,
        content=content,
        subject=subject,
        artifact_type=artifact_type,
        annotations=json.dumps(annotations) if annotations else None,
        blob_refs=tuple(dict.fromkeys(blob_refs)),
        manifest_refs=tuple(dict.fromkeys(manifest_refs)),
    )


def _media_type(doc: dict[str, Any], content_type: str | None) -> str:
    """The manifest's media type: its ``mediaType``, else the request's ``content_type``, else guessed
    from its shape (index or image manifest).

    Raises:
        InvalidManifest: ``mediaType`` is not a string, disagrees with ``content_type``, or the result
            is not ``type/subtype`` (it is served back as the Content-Type header).
    """
    body_type = doc.get("mediaType")
    if body_type is not None and not isinstance(body_type, str):
        raise InvalidManifest("manifest invalid: mediaType must be a string")
    if (
        body_type
        and content_type
        and content_type != body_type
        and content_type != "application/octet-stream"
    ):
        raise InvalidManifest(
            f"manifest invalid: Content-Type {content_type!r} differs from mediaType {body_type!r}"
        )
    media_type = body_type or content_type
    if not media_type or media_type == "application/octet-stream":
        media_type = mediatypes.OCI_INDEX if "manifests" in doc else mediatypes.OCI_MANIFEST
    if not is_media_type(media_type):
        raise InvalidManifest(f"manifest invalid: media type {media_type[:100]!r} is not a type/subtype")
    return media_type


def _references(doc: dict[str, Any], media_type: str) -> tuple[list[Digest], list[Digest]]:
    """The blobs (config and layers without ``urls``) and the child manifests ``doc`` names.

    Raises:
        InvalidManifest: a malformed descriptor or descriptor list.
    """
    if "manifests" in doc or media_type in _INDEX_TYPES:
        return [], [_descriptor(m, f"manifests[{i}]")[0] for i, m in enumerate(_array(doc, "manifests"))]
    blob_refs: list[Digest] = []
    config = doc.get("config")
    if config is not None:
        blob_refs.append(_descriptor(config, "config")[0])
    for i, layer in enumerate(_array(doc, "layers")):
        digest, raw = _descriptor(layer, f"layers[{i}]")
        if not raw.get("urls"):
            blob_refs.append(digest)
    return blob_refs, []


def _artifact_type(doc: dict[str, Any]) -> str | None:
    """``artifactType``, else the config's media type when that is ``type/subtype``, else None.

    Raises:
        InvalidManifest: ``artifactType`` is present but not ``type/subtype``.
    """
    artifact_type = doc.get("artifactType")
    if artifact_type is not None and not (isinstance(artifact_type, str) and is_media_type(artifact_type)):
        raise InvalidManifest(
            f"manifest invalid: artifactType {str(artifact_type)[:100]!r} is not a type/subtype"
        )
    config = doc.get("config")
    if artifact_type is None and isinstance(config, dict):
        artifact_type = config.get("mediaType")
    return artifact_type if isinstance(artifact_type, str) and is_media_type(artifact_type) else None


def is_media_type(text: str) -> bool:
    """True when ``text`` is an RFC 6838 media type (``type/subtype``, optional ASCII parameters): safe
    to send as a header and to store as text."""
    return _MEDIA_TYPE_RE.fullmatch(text) is not None


def _load_json(content: bytes) -> Any:
    """Decode a manifest body, refusing anything nested deeper than :data:`~registry.oci.manifest.MAX_MANIFEST_NESTING`.

    Raises:
        InvalidManifest: not UTF-8 JSON (numbers too long to convert included), or nested too deep
            (which would otherwise exhaust the interpreter's recursion limit here or later).
    """
    try:
        return loads_bounded(content, MAX_MANIFEST_NESTING, strict_numbers=False)
    except JsonTooDeep as err:
        raise InvalidManifest(f"manifest invalid: nested deeper than {MAX_MANIFEST_NESTING} levels") from err
    except ValueError as err:  # JSONDecodeError, bad UTF-8, and int() of a 5,000-digit number
        raise InvalidManifest(f"manifest invalid: not JSON ({err})") from err


def _array(doc: dict[str, Any], key: str) -> list[Any]:
    value = doc.get(key, [])
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidManifest(f"manifest invalid: {key} must be an array")
    return value


def _descriptor(obj: object, where: str) -> tuple[Digest, dict[str, Any]]:
    if not isinstance(obj, dict):
        raise InvalidManifest(f"manifest invalid: {where} is not an object")
    digest, size, media_type = obj.get("digest"), obj.get("size"), obj.get("mediaType")
    if not isinstance(media_type, str) or not media_type:
        raise InvalidManifest(f"manifest invalid: {where}.mediaType is missing")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise InvalidManifest(f"manifest invalid: {where}.size must be a non-negative integer")
    if not isinstance(digest, str):
        raise InvalidManifest(f"manifest invalid: {where}.digest is missing")
    try:
        return Digest.parse_oci(digest), obj
    except InvalidDigest as err:
        raise InvalidManifest(f"manifest invalid: {where}.digest: {err}") from err


def descriptor_sizes(content: bytes) -> dict[Digest, int]:
    """Declared sizes of the blobs a (valid) manifest names, for checking against stored sizes."""
    doc = json.loads(content)
    sizes: dict[Digest, int] = {}
    entries = [doc.get("config")] if isinstance(doc.get("config"), dict) else []
    entries += [e for e in (doc.get("layers") or []) if isinstance(e, dict) and not e.get("urls")]
    for entry in entries:
        sizes[Digest.parse_oci(entry["digest"])] = int(entry["size"])
    return sizes
