"""Content digests: the ``<algorithm>:<hex>`` value type.

A :class:`Digest` is parsed once at the edge; a raw digest string never crosses a layer boundary.
Both ``sha256:<hex>`` (OCI) and ``sha256-<hex>`` (Ollama's file names) are accepted; upper-case hex is
accepted and normalised to lower case.

The model library speaks sha256 only (as Ollama does): :meth:`Digest.parse` refuses anything else.
The registry server also accepts sha512, which the OCI spec registers and its conformance suite
pushes: :meth:`Digest.parse_oci`. Code that hashes content asks the digest for a matching hasher
(:meth:`Digest.new_hasher`) instead of assuming sha256.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from registry.errors import InvalidDigest

__all__ = ["ALGORITHMS", "Digest", "sha256_of"]

#: Supported algorithms and the length of their hex encoding.
ALGORITHMS = {"sha256": 64, "sha512": 128}

_DIGEST_RE = re.compile(r"sha256[:-]([0-9a-fA-F]{64})")
_OCI_DIGEST_RE = re.compile(r"(sha256|sha512):([0-9a-fA-F]+)")
_HEX_RE = re.compile(r"[0-9a-f]+")  # used with fullmatch ($ would allow a trailing "\n")


@dataclass(frozen=True, slots=True)
class Digest:
    """A content digest. ``str(d)`` is ``<algorithm>:<lowercase hex>``; the algorithm is sha256 unless
    said otherwise."""

    hex: str
    algorithm: str = "sha256"

    def __post_init__(self) -> None:
        length = ALGORITHMS.get(self.algorithm)
        if length is None:
            raise InvalidDigest(f"unsupported digest algorithm {self.algorithm[:20]!r}")
        if len(self.hex) != length or not _HEX_RE.fullmatch(self.hex):
            raise InvalidDigest(f"invalid digest: {self.hex[:80]!r} is not {length} lowercase hex characters")

    @classmethod
    def parse(cls, text: str) -> Digest:
        """Parse ``sha256:<hex>`` or ``sha256-<hex>``.

        Raises:
            InvalidDigest: with a message quoting (a prefix of) the bad input.
        """
        match = _match(_DIGEST_RE, text, "sha256:<64 hex characters>")
        return cls(match.group(1).lower())

    @classmethod
    def parse_oci(cls, text: str) -> Digest:
        """Parse ``sha256:<64 hex>`` or ``sha512:<128 hex>`` (the OCI spelling only).

        Raises:
            InvalidDigest: with a message quoting (a prefix of) the bad input.
        """
        match = _match(_OCI_DIGEST_RE, text, "sha256:<64 hex> or sha512:<128 hex>")
        try:
            return cls(match.group(2).lower(), match.group(1))
        except InvalidDigest:
            raise InvalidDigest(
                f"invalid digest {text[:100]!r}: a {match.group(1)} digest has "
                f"{ALGORITHMS[match.group(1)]} hex characters"
            ) from None

    @classmethod
    def trusted(cls, text: str) -> Digest:
        """Rebuild a digest we wrote ourselves (``<algorithm>:<hex>`` from our catalog) without
        re-validating.

        Only for values that were validated when they entered the system; never for user input.
        """
        obj = object.__new__(cls)
        algorithm, _, hex_ = text.partition(":")
        object.__setattr__(obj, "hex", hex_)
        object.__setattr__(obj, "algorithm", algorithm)
        return obj

    @classmethod
    def from_hasher(cls, hasher: hashlib._Hash) -> Digest:
        """The digest of what a ``hashlib.sha256()`` (or ``sha512()``) object has consumed."""
        return cls(hasher.hexdigest(), hasher.name)

    def new_hasher(self) -> hashlib._Hash:
        """A fresh hashlib object of this digest's algorithm."""
        return hashlib.new(self.algorithm)

    def matches(self, data: bytes) -> bool:
        """True when ``data`` hashes to this digest."""
        return hashlib.new(self.algorithm, data).hexdigest() == self.hex

    @property
    def short(self) -> str:
        """The first 12 hex characters, as Ollama shows IDs and layer names."""
        return self.hex[:12]

    @property
    def filename(self) -> str:
        """Ollama's on-disk spelling, ``sha256-<hex>``."""
        return f"{self.algorithm}-{self.hex}"

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.hex}"


def _match(pattern: re.Pattern[str], text: object, expected: str) -> re.Match[str]:
    """``pattern`` matched against ``text``, or InvalidDigest quoting (a prefix of) the input."""
    match = pattern.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        shown = text[:100] if isinstance(text, str) else type(text).__name__
        raise InvalidDigest(f"invalid digest format {shown!r}: expected {expected}")
    return match


def sha256_of(data: bytes) -> Digest:
    """The digest of ``data``."""
    return Digest(hashlib.sha256(data).hexdigest())
