"""Model names: Ollama's grammar as a frozen value type.

Grammar (Ollama's ``types/model/name.go``, plus the documented ``@digest``)::

    [scheme://][host[:port]/][namespace/]model[:tag][@sha256:<hex>]

Defaults: scheme ``https``, host ``registry.ollama.ai``, namespace ``library``, tag ``latest``.

Rules for each part (Ollama's ``isValidPart``): the first character is a letter, digit or ``_``; the
rest are letters, digits, ``_`` or ``-``; ``.`` is allowed in host, model and tag but not in the
namespace; ``:`` only in the host (for a port). Lengths: host 1..350, namespace/model/tag 1..80.
These rules alone already keep every part clear of ``..``, ``/``, ``\\``, NUL and absolute paths, so a
name can never address a file outside the store; the error message names the part that is wrong.

Matching is case-insensitive (``LLaMA3.2`` finds ``llama3.2``); display keeps the case the user gave.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from registry.errors import InvalidName
from registry.oci.digest import Digest

__all__ = ["DEFAULT_HOST", "DEFAULT_NAMESPACE", "DEFAULT_TAG", "ModelName"]

DEFAULT_HOST = "registry.ollama.ai"
DEFAULT_NAMESPACE = "library"
DEFAULT_TAG = "latest"
DEFAULT_SCHEME = "https"

_LIMITS = {"host": 350, "namespace": 80, "model": 80, "tag": 80}
_PART_RE = {
    "host": re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:-]*"),
    "namespace": re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]*"),
    "model": re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*"),
    "tag": re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*"),
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
