"""The transfer settings a user's environment gives, shared by the CLI's pull/push and the model
server's /api/pull, /api/push and /api/create: registry credentials from ``$DOCKER_CONFIG/config.json``
(default ``~/.docker/config.json``, what ``ollama-py login`` writes), a CA bundle (``--ca-bundle`` or
``OLLAMA_PY_CA_BUNDLE``), client-side registry mirrors (``OLLAMA_PY_MIRRORS``, see
:mod:`registry.remote.mirrors`), and Ollama's key ``~/.ollama/id_ed25519`` that signs token requests
to ollama.com (used only for those hosts).
"""

from __future__ import annotations

import os
import ssl
from dataclasses import replace
from pathlib import Path

from registry.errors import InvalidInput
from registry.remote.credentials import CredentialStore
from registry.remote.mirrors import parse_mirrors
from registry.remote.options import TransferOptions

__all__ = ["transfer_options"]


def transfer_options(
    home: Path,
    *,
    host: str | None = None,
    insecure: bool = False,
    ca_bundle: Path | None = None,
    max_rate: float | None = None,
) -> TransferOptions:
    """Options from the environment and the given flags. With ``host``, Ollama's key is loaded only
    when that host is one it signs for (a load failure is an error); without (a server, any host), it
    is loaded when present and usable.

    Raises:
        InvalidInput: an unreadable CA bundle or credentials file, a malformed
            ``OLLAMA_PY_MIRRORS``, or (with ``host``) key.
    """
    config_dir = Path(os.environ.get("DOCKER_CONFIG") or Path.home() / ".docker")
    bundle = ca_bundle or (
        Path(os.environ["OLLAMA_PY_CA_BUNDLE"]) if os.environ.get("OLLAMA_PY_CA_BUNDLE") else None
    )
    context = None
    if bundle is not None:
        context = ssl.create_default_context()
        try:
            context.load_verify_locations(cafile=str(bundle))
        except (OSError, ssl.SSLError) as err:
            raise InvalidInput(f"cannot load CA bundle {bundle}: {err}") from err
    options = TransferOptions(
        insecure=insecure,
        ssl_context=context,
        credentials=CredentialStore.from_docker_config(config_dir / "config.json"),
        max_rate=max_rate,
        mirrors=parse_mirrors(os.environ.get("OLLAMA_PY_MIRRORS", "")),
    )
    key_path = home / ".ollama" / "id_ed25519"
    if not key_path.exists() or (host is not None and host.lower() not in options.signing_hosts):
        return options
    from registry.remote.signing import OllamaKey

    try:
        return replace(options, signing_key=OllamaKey.load(key_path))
    except (InvalidInput, ImportError, OSError, ValueError):
        if host is not None:
            raise
        return options  # a server without a usable key still pulls from everywhere else
