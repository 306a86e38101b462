"""Content digests: the ``sha256:<hex>`` value type.

A :class:`Digest` is parsed once at the edge; a raw digest string never crosses a layer boundary.
Both ``sha256:<hex>`` (OCI) and ``sha256-<hex>`` (Ollama's file names) are accepted; upper-case hex is
accepted and normalised to lower case. Only sha256 is supported (OCI allows others; no registry we
talk to uses them).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from registry.errors import InvalidDigest

__all__ = ["Digest", "sha256_of"]

_DIGEST_RE = re.compile(r"^sha256[:-]([0-9a-fA-F]{64})$")
_HEX_RE = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True, slots=True)
class Digest:
    """A sha256 content digest. ``str(d)`` is ``sha256:<64 lowercase hex>``."""

    hex: str

    def __post_init__(self) -> None:
        if not _HEX_RE.match(self.hex):
            raise InvalidDigest(f"invalid digest: {self.hex[:80]!r} is not 64 lowercase hex characters")

    @classmethod
    def parse(cls, text: str) -> Digest:
        """Parse ``sha256:<hex>`` or ``sha256-<hex>``.

        Raises:
            InvalidDigest: with a message quoting (a prefix of) the bad input.
        """
        match = _DIGEST_RE.match(text) if isinstance(text, str) else None
        if match is None:
            shown = text[:100] if isinstance(text, str) else type(text).__name__
            raise InvalidDigest(f"invalid digest format {shown!r}: expected sha256:<64 hex characters>")
        return cls(match.group(1).lower())

    @classmethod
    def trusted(cls, text: str) -> Digest:
        """Rebuild a digest we wrote ourselves (``sha256:<hex>`` from our catalog) without re-validating.

        Only for values that were validated when they entered the system; never for user input.
        """
        obj = object.__new__(cls)
        object.__setattr__(obj, "hex", text[7:])
        return obj

    @classmethod
    def from_hasher(cls, hasher: hashlib._Hash) -> Digest:
        """The digest of what a ``hashlib.sha256()`` object has consumed."""
        return cls(hasher.hexdigest())

    @property
    def algorithm(self) -> str:
        """Always ``"sha256"``."""
        return "sha256"

    @property
    def short(self) -> str:
        """The first 12 hex characters, as Ollama shows IDs and layer names."""
        return self.hex[:12]

    @property
    def filename(self) -> str:
        """Ollama's on-disk spelling, ``sha256-<hex>``."""
        return f"sha256-{self.hex}"

    def __str__(self) -> str:
        return f"sha256:{self.hex}"


def sha256_of(data: bytes) -> Digest:
    """The digest of ``data``."""
    return Digest(hashlib.sha256(data).hexdigest())
