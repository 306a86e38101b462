"""Ollama's request signing for registry tokens (pushes to ollama.com).

The key is ``~/.ollama/id_ed25519`` (OpenSSH format, as ``ollama serve`` generates it). A token
request is signed over ``"GET,<token URL>,<base64(hex(sha256(body)))>"`` (empty body) and the
signature sent as ``Authorization: <base64 ssh-wire public key>:<base64 raw signature>`` (no
scheme), exactly as Ollama's ``auth.Sign``. ``cryptography`` is imported only when a key is used.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from registry.errors import InvalidInput

__all__ = ["OllamaKey", "signed_message"]


def signed_message(method: str, url: str, body: bytes = b"") -> bytes:
    """The bytes Ollama signs for a request."""
    body_hash = base64.b64encode(hashlib.sha256(body).hexdigest().encode()).decode()
    return f"{method},{url},{body_hash}".encode()


@dataclass(frozen=True, slots=True)
class OllamaKey:
    """An ed25519 private key and its OpenSSH public key text."""

    private: Any
    public_b64: str

    @classmethod
    def load(cls, path: Path) -> OllamaKey:
        """Read an OpenSSH ed25519 private key.

        Raises:
            InvalidInput: unreadable, not ed25519, encrypted, or ``cryptography`` missing.
        """
        try:
            from cryptography.hazmat.primitives import serialization
            from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
        except ImportError as err:  # pragma: no cover - depends on the installation
            raise InvalidInput("signing registry requests needs the 'cryptography' package") from err
        try:
            key = serialization.load_ssh_private_key(path.read_bytes(), password=None)
        except (OSError, ValueError, TypeError) as err:
            raise InvalidInput(f"cannot load the ed25519 key {path}: {err}") from err
        if not isinstance(key, Ed25519PrivateKey):
            raise InvalidInput(f"{path} is not an ed25519 key")
        public = key.public_key().public_bytes(
            serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
        )
        return cls(key, public.split()[1].decode())

    def authorization(self, message: bytes) -> str:
        """``<public key>:<signature>``: the Authorization value Ollama's registry expects."""
        signature = self.private.sign(message)
        return f"{self.public_b64}:{base64.b64encode(signature).decode()}"
