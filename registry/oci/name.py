"""Names: Ollama's model names and the OCI spec's repository names, tags and manifest references.

Two grammars live here because they share their parts (a tag is the same characters in both) and
everything that later becomes a storage key, a file name or a database value passes through one of
them first. Every pattern is applied with ``fullmatch``: ``$`` would also match before a trailing
newline, letting ``"v1\n"`` through as a tag.

**Model names** (:class:`ModelName`, the model library and its clients): Ollama's grammar.

Grammar (Ollama's ``types/model/name.go``, plus the documented ``@digest``)::

    [scheme://][host[:port]/][namespace/]model[:tag][@sha256:<hex>]

Defaults: scheme ``https``, host ``registry.ollama.ai``, namespace ``library``, tag ``latest``.

Rules for each part (Ollama's ``isValidPart``): the first character is a letter, digit or ``_``; the
rest are letters, digits, ``_`` or ``-``; ``.`` is allowed in host, model and tag but not in the
namespace; ``:`` only in the host (for a port). Lengths: host 1..350, namespace/model/tag 1..80.
These rules alone already keep every part clear of ``..``, ``/``, ``\\``, NUL and absolute paths, so a
name can never address a file outside the store; the error message names the part that is wrong.

Matching is case-insensitive (``LLaMA3.2`` finds ``llama3.2``); display keeps the case the user gave.

**Repository names, tags and references** (:func:`validate_repo`, :func:`validate_tag`,
:func:`parse_reference`, the registry server): the OCI Distribution spec's grammar. A repository name is
``/``-separated lower-case components (``[a-z0-9]+`` joined by ``.``, ``_``, ``__`` or dashes), at most
:data:`MAX_NAME_LENGTH` characters; a tag is at most :data:`MAX_TAG_LENGTH` characters; a reference is
a tag or an OCI digest (``sha256`` or ``sha512``, see :meth:`Digest.parse_oci`). None of them can
address anything outside a store root (``..``, ``/`` at the ends, NUL are outside the grammar).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from registry.errors import InvalidName, InvalidTag
from registry.oci.digest import Digest

__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_NAMESPACE",
    "DEFAULT_TAG",
    "MAX_NAME_LENGTH",
    "MAX_TAG_LENGTH",
    "ModelName",
    "Reference",
    "parse_reference",
    "validate_repo",
    "validate_tag",
]

DEFAULT_HOST = "registry.ollama.ai"
DEFAULT_NAMESPACE = "library"
DEFAULT_TAG = "latest"
DEFAULT_SCHEME = "https"

#: Clients cap ``host[:port]/name`` at 255 characters; we allow the repository name itself up to 255.
MAX_NAME_LENGTH = 255
#: The OCI spec's tag length (a model name's tag is shorter: ``_LIMITS["tag"]``).
MAX_TAG_LENGTH = 128

#: A tag's characters, in both grammars: a letter, digit or ``_``, then letters, digits, ``_.-``.
_TAG_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
_COMPONENT = r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*"
_REPOSITORY_RE = re.compile(rf"{_COMPONENT}(?:/{_COMPONENT})*")

_LIMITS = {"host": 350, "namespace": 80, "model": 80, "tag": 80}
_PART_RE = {
    "host": re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:-]*"),
    "namespace": re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]*"),
    "model": re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*"),
    "tag": _TAG_RE,
}
_ALLOWED_TEXT = {
    "host": "letters, digits, '_', '-', '.' and ':'",
    "namespace": "letters, digits, '_' and '-'",
    "model": "letters, digits, '_', '-' and '.'",
    "tag": "letters, digits, '_', '-' and '.'",
}


def _check_part(kind: str, value: str, whole: str) -> None:
    if not value:
        raise InvalidName(f"invalid model name {whole!r}: the {kind} is empty")
    if len(value) > _LIMITS[kind]:
        raise InvalidName(
            f"invalid model name {whole[:120]!r}: the {kind} is {len(value)} characters long "
            f"(at most {_LIMITS[kind]})"
        )
    if not _PART_RE[kind].fullmatch(value):
        first_ok = re.match(r"[A-Za-z0-9_]", value[0]) is not None
        why = (
            "must start with a letter, digit or '_'"
            if not first_ok
            else f"may contain only {_ALLOWED_TEXT[kind]}"
        )
        raise InvalidName(f"invalid model name {whole[:120]!r}: the {kind} {value[:100]!r} {why}")


@dataclass(frozen=True, slots=True, eq=False)
class ModelName:
    """A fully qualified model name. Compare and hash case-insensitively; display as given.

    Build one with :meth:`parse`; the constructor validates every part as well.
    """

    host: str = DEFAULT_HOST
    namespace: str = DEFAULT_NAMESPACE
    model: str = ""
    tag: str = DEFAULT_TAG
    scheme: str = DEFAULT_SCHEME
    digest: Digest | None = None

    def __post_init__(self) -> None:
        whole = f"{self.host}/{self.namespace}/{self.model}:{self.tag}"
        if self.scheme not in ("http", "https"):
            raise InvalidName(f"invalid model name {whole!r}: scheme {self.scheme!r} is not http or https")
        for kind in ("host", "namespace", "model", "tag"):
            _check_part(kind, getattr(self, kind), whole)

    @classmethod
    def parse(cls, text: str, *, default_tag: str = DEFAULT_TAG) -> ModelName:
        """Parse a name typed by a person or sent by a client.

        Raises:
            InvalidName: naming the part that is wrong.
            InvalidDigest: when an ``@`` suffix is not a sha256 digest.
        """
        if not isinstance(text, str):
            raise InvalidName(f"invalid model name: expected a string, got {type(text).__name__}")
        whole = text.strip()
        if not whole:
            raise InvalidName("invalid model name: the name is empty")
        if "\x00" in whole:
            raise InvalidName(f"invalid model name {whole[:120]!r}: it contains a NUL character")
        rest = whole
        scheme = DEFAULT_SCHEME
        if "://" in rest:
            scheme, rest = rest.split("://", 1)
            if scheme not in ("http", "https"):
                raise InvalidName(
                    f"invalid model name {whole[:120]!r}: scheme {scheme!r} is not http or https"
                )
        digest = None
        if "@" in rest:
            rest, digest_text = rest.rsplit("@", 1)
            digest = Digest.parse(digest_text)
        tag = default_tag
        if rest.rfind(":") > rest.rfind("/"):
            rest, tag = rest.rsplit(":", 1)
            if not tag:
                raise InvalidName(f"invalid model name {whole[:120]!r}: the tag after ':' is empty")
        parts = rest.split("/")
        if len(parts) > 3:
            raise InvalidName(
                f"invalid model name {whole[:120]!r}: expected [host/][namespace/]model, found "
                f"{len(parts)} parts separated by '/'"
            )
        host, namespace = DEFAULT_HOST, DEFAULT_NAMESPACE
        if len(parts) == 3:
            host, namespace, model = parts
        elif len(parts) == 2:
            namespace, model = parts
        else:
            (model,) = parts
        for kind, value in (("host", host), ("namespace", namespace), ("model", model)):
            if not value:
                raise InvalidName(f"invalid model name {whole[:120]!r}: the {kind} is empty")
        return cls(host=host, namespace=namespace, model=model, tag=tag, scheme=scheme, digest=digest)

    @classmethod
    def trusted(cls, host: str, namespace: str, model: str, tag: str) -> ModelName:
        """Rebuild a name read back from our own catalog, where every part was validated on the way in."""
        obj = object.__new__(cls)
        for field_name, value in (
            ("host", host),
            ("namespace", namespace),
            ("model", model),
            ("tag", tag),
            ("scheme", DEFAULT_SCHEME),
            ("digest", None),
        ):
            object.__setattr__(obj, field_name, value)
        return obj

    @property
    def key(self) -> str:
        """The case-folded ``host/namespace/model:tag``: what equality, hashing and lookups use."""
        return f"{self.host}/{self.namespace}/{self.model}:{self.tag}".casefold()

    @property
    def repository(self) -> str:
        """``namespace/model``: the repository path on the registry."""
        return f"{self.namespace}/{self.model}"

    @property
    def base_url(self) -> str:
        """``scheme://host``: the registry to talk to."""
        return f"{self.scheme}://{self.host}"

    @property
    def display_shortest(self) -> str:
        """What ``list`` and ``ps`` show: host and namespace left out when they are the defaults."""
        if self.host.casefold() == DEFAULT_HOST:
            if self.namespace.casefold() == DEFAULT_NAMESPACE:
                return f"{self.model}:{self.tag}"
            return f"{self.namespace}/{self.model}:{self.tag}"
        return f"{self.host}/{self.namespace}/{self.model}:{self.tag}"

    def with_tag(self, tag: str) -> ModelName:
        """The same name with another tag (validated)."""
        return replace(self, tag=tag)

    def __str__(self) -> str:
        text = f"{self.host}/{self.namespace}/{self.model}:{self.tag}"
        return f"{text}@{self.digest}" if self.digest else text

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ModelName):
            return NotImplemented
        return self.key == other.key and self.digest == other.digest

    def __hash__(self) -> int:
        return hash((self.key, self.digest))


def validate_repo(name: str) -> str:
    """Return ``name`` when it is a valid OCI repository name.

    Raises:
        InvalidName: ``NAME_INVALID`` with the reason.
    """
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidName(f"invalid repository name: longer than {MAX_NAME_LENGTH} characters")
    if not _REPOSITORY_RE.fullmatch(name):
        raise InvalidName(f"invalid repository name {name[:100]!r}: must match the OCI name grammar")
    return name


def validate_tag(tag: str) -> str:
    """Return ``tag`` when it is a valid OCI tag. Raises :class:`InvalidTag`."""
    if len(tag) > MAX_TAG_LENGTH or not _TAG_RE.fullmatch(tag):
        raise InvalidTag(f"invalid tag {tag[:140]!r}: must match [a-zA-Z0-9_][a-zA-Z0-9._-]{{0,127}}")
    return tag


@dataclass(frozen=True, slots=True)
class Reference:
    """A manifest reference: exactly one of ``tag`` or ``digest``."""

    tag: str | None = None
    digest: Digest | None = None

    def __str__(self) -> str:
        return self.tag if self.tag is not None else str(self.digest)


def parse_reference(text: str) -> Reference:
    """A tag or a digest. Anything containing ``:`` must be a valid OCI digest.

    Raises:
        InvalidDigest: a malformed or unsupported digest.
        InvalidTag: neither a tag nor a digest.
    """
    if ":" in text:
        return Reference(digest=Digest.parse_oci(text))
    return Reference(tag=validate_tag(text))
