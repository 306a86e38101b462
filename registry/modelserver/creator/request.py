"""The ``/api/create`` request as a validated value (Ollama's current ``CreateRequest``).

Built either from the JSON body (:meth:`CreateRequest.from_json`) or from a parsed Modelfile whose
local files have already been put into the library (:meth:`CreateRequest.from_modelfile`).
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from registry.errors import InvalidInput
from registry.modelfile.parameters import ParameterError, check_parameters
from registry.modelfile.parser import MESSAGE_ROLES, Modelfile
from registry.oci.digest import Digest

__all__ = ["QUANTIZE_TYPES", "CreateRequest", "normalise_quantize"]

#: Accepted ``quantize`` targets (upper case) and aliases, as Ollama's ``ParseFileType``.
QUANTIZE_TYPES = ("Q4_K_M", "Q4_K_S", "Q8_0", "F16", "F32", "BF16")
_ALIASES = {"Q4_K": "Q4_K_M"}


def normalise_quantize(value: str | None) -> str | None:
    """Upper-case a quantization name and resolve aliases.

    Raises InvalidInput: "unsupported quantization type X - supported types are ...".
    """
    if not value:
        return None
    upper = _ALIASES.get(value.upper(), value.upper())
    if upper not in QUANTIZE_TYPES:
        raise InvalidInput(
            f"unsupported quantization type {value} - supported types are {', '.join(QUANTIZE_TYPES)}"
        )
    return upper


def _file_map(body: Mapping[str, Any], key: str) -> dict[str, Digest]:
    value = body.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidInput(f"'{key}' must be an object of file name to digest")
    out: dict[str, Digest] = {}
    for name, digest in value.items():
        normal = posixpath.normpath(name) if name else ""
        if not name or name.startswith("/") or normal.startswith("..") or "\\" in name or normal == ".":
            raise InvalidInput("file path must be relative")
        if not isinstance(digest, str) or not digest:
            raise InvalidInput("invalid digest format")
        out[name] = Digest.parse(digest)
    return out


def _strings(body: Mapping[str, Any], key: str) -> tuple[str, ...]:
    value = body.get(key)
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise InvalidInput(f"'{key}' must be a string or a list of strings")


def _optional_str(body: Mapping[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is None or isinstance(value, str):
        return value or None
    raise InvalidInput(f"'{key}' must be a string")


def _messages(body: Mapping[str, Any]) -> tuple[dict[str, str], ...]:
    value = body.get("messages") or []
    if not isinstance(value, list):
        raise InvalidInput("'messages' must be a list")
    out = []
    for item in value:
        if not isinstance(item, dict) or not isinstance(item.get("content", ""), str):
            raise InvalidInput("each message must be an object with a role and a content string")
        if item.get("role") not in MESSAGE_ROLES:
            raise InvalidInput('message role must be one of "system", "user", or "assistant"')
        out.append({"role": str(item["role"]), "content": str(item.get("content", ""))})
    return tuple(out)


@dataclass(frozen=True, slots=True)
class CreateRequest:
    """What to create. ``files``/``adapters`` map file names to digests of blobs in the library."""

    from_: str | None = None
    files: Mapping[str, Digest] = field(default_factory=dict)
    adapters: Mapping[str, Digest] = field(default_factory=dict)
    template: str | None = None
    system: str | None = None
    parameters: Mapping[str, Any] = field(default_factory=dict)
    licenses: tuple[str, ...] = ()
    messages: tuple[dict[str, str], ...] = ()
    quantize: str | None = None
    requires: str | None = None
    warnings: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> CreateRequest:
        """Validate an ``/api/create`` body (``quantization`` is accepted for ``quantize``).

        Raises:
            InvalidInput: a field of the wrong type, a non-relative file name, a bad digest, an
                unknown parameter, neither ``from`` nor ``files``.
        """
        params = body.get("parameters") or {}
        if not isinstance(params, dict):
            raise InvalidInput("'parameters' must be an object")
        try:
            checked, warnings = check_parameters(params)
        except ParameterError as err:
            raise InvalidInput(str(err)) from None
        request = cls(
            from_=_optional_str(body, "from"),
            files=_file_map(body, "files"),
            adapters=_file_map(body, "adapters"),
            template=_optional_str(body, "template"),
            system=_optional_str(body, "system"),
            parameters=checked,
            licenses=_strings(body, "license"),
            messages=_messages(body),
            quantize=normalise_quantize(
                _optional_str(body, "quantize") or _optional_str(body, "quantization")
            ),
            requires=_optional_str(body, "requires"),
            warnings=tuple(warnings),
        )
        if not request.from_ and not request.files:
            raise InvalidInput("neither 'from' or 'files' was specified")
        return request

    @classmethod
    def from_modelfile(
        cls,
        modelfile: Modelfile,
        *,
        files: Mapping[str, Digest] | None = None,
        adapters: Mapping[str, Digest] | None = None,
        quantize: str | None = None,
    ) -> CreateRequest:
        """A request from a parsed Modelfile. ``files``/``adapters`` are the digests of the local
        files its FROM/ADAPTER lines named (already in the library); without ``files`` the FROM
        value is a model name."""
        return cls(
            from_=None if files else modelfile.from_,
            files=dict(files or {}),
            adapters=dict(adapters or {}),
            template=modelfile.template,
            system=modelfile.system,
            parameters=dict(modelfile.parameters),
            licenses=modelfile.licenses,
            messages=tuple(m.to_json() for m in modelfile.messages),
            quantize=normalise_quantize(quantize),
            requires=modelfile.requires,
            warnings=modelfile.warnings,
        )

    def to_json(self, model: str, *, stream: bool = True) -> dict[str, Any]:
        """The ``/api/create`` body for this request (what the CLI sends to a server)."""
        body: dict[str, Any] = {"model": model, "stream": stream}
        if self.from_:
            body["from"] = self.from_
        if self.files:
            body["files"] = {k: str(v) for k, v in self.files.items()}
        if self.adapters:
            body["adapters"] = {k: str(v) for k, v in self.adapters.items()}
        for key, value in (("template", self.template), ("system", self.system), ("quantize", self.quantize)):
            if value is not None:
                body[key] = value
        if self.requires:
            body["requires"] = self.requires
        if self.parameters:
            body["parameters"] = dict(self.parameters)
        if self.licenses:
            body["license"] = list(self.licenses)
        if self.messages:
            body["messages"] = list(self.messages)
        return body
