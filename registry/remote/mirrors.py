"""Client-side registry mirrors, as containerd's ``hosts.toml`` mirrors: pulls of a host's models try
its mirrors first, in order, and fall back to the host itself.

The setting (``OLLAMA_PY_MIRRORS``, parsed by :func:`parse_mirrors`) maps a registry host to mirror
endpoints::

    registry.ollama.ai=http://127.0.0.1:5001,https://mirror.example.com;ghcr.io=https://m2.example.com

A mirror serves the same repository paths (``/v2/library/gemma3/...``): our
``ollama-py registry serve`` with ``[mirror] upstream = ...``, or any registry holding copies.
The model keeps its name (``gemma3`` stays ``registry.ollama.ai/library/gemma3:latest`` in the
store); only where the bytes come from changes. A mirror's scheme is what its URL says (an
``http://`` mirror needs no ``--insecure``: naming it is the choice). Pulls only: pushes always go
to the host named.

:func:`open_manifest` picks the endpoint: the first mirror whose manifest request succeeds serves
the whole pull (its blobs too). A mirror that cannot be reached (connection refused, a timeout, a
5xx) costs one warning line (logged) and the next endpoint is tried; a mirror without the model
(404) is skipped quietly. Errors from the host itself are the pull's errors.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from registry.errors import InvalidInput, ModelNotFound, TransferError
from registry.oci.manifest import Manifest
from registry.oci.name import ModelName
from registry.remote.client import RegistryClient
from registry.remote.transport import Transport

__all__ = ["Mirrors", "open_manifest", "parse_mirrors"]

log = logging.getLogger(__name__)

#: host (lower case, ``host[:port]``) -> mirror endpoints (``scheme://host[:port]``), in order.
Mirrors = tuple[tuple[str, tuple[str, ...]], ...]


def parse_mirrors(spec: str, *, source: str = "OLLAMA_PY_MIRRORS") -> Mirrors:
    """``HOST=URL[,URL...]`` entries separated by ``;`` or whitespace.

    Raises:
        InvalidInput: an entry without ``=``, an empty host, or a URL that is not
            ``http(s)://host[:port]`` (no path, query, or credentials), naming ``source``.
    """
    table: dict[str, list[str]] = {}
    for entry in spec.replace(";", " ").split():
        host, sep, urls = entry.partition("=")
        host = host.strip().lower()
        if not sep or not host or "/" in host:
            raise InvalidInput(
                f"{source}: {entry!r} is not HOST=URL[,URL...] (e.g. registry.ollama.ai=http://127.0.0.1:5001)"
            )
        for url in (u for u in urls.split(",") if u):
            table.setdefault(host, []).append(_endpoint(url, source))
        if host not in table:
            raise InvalidInput(f"{source}: {entry!r} names no mirror URL")
    return tuple((host, tuple(urls)) for host, urls in table.items())


def _endpoint(url: str, source: str) -> str:
    parts = urlsplit(url)
    if (
        parts.scheme not in ("http", "https")
        or not parts.netloc
        or "@" in parts.netloc
        or parts.path.strip("/")
        or parts.query
        or parts.fragment
    ):
        raise InvalidInput(f"{source}: mirror {url!r} must be http(s)://host[:port]")
    return f"{parts.scheme}://{parts.netloc.lower()}"


def mirrors_for(mirrors: Mirrors, host: str) -> tuple[str, ...]:
    """The mirror endpoints of ``host`` (none when it has no entry)."""
    key = host.lower()
    return next((urls for name, urls in mirrors if name == key), ())


async def open_manifest(
    transport: Transport, name: ModelName, mirrors: Mirrors
) -> tuple[RegistryClient, Manifest]:
    """The client of the first endpoint (mirrors of ``name``'s host, then the host) that serves
    ``name``'s manifest, and that manifest.

    Raises:
        What :meth:`RegistryClient.get_manifest` raises for the host itself.
    """
    for endpoint in mirrors_for(mirrors, name.host):
        client = RegistryClient(transport, name, endpoint=endpoint)
        try:
            return client, await client.get_manifest()
        except TransferError as err:
            log.warning("warning: mirror %s is unreachable (%s); pulling from %s", endpoint, err, name.host)
        except ModelNotFound:
            log.debug("mirror %s does not have %s; trying the next", endpoint, name.display_shortest)
    client = RegistryClient(transport, name)
    return client, await client.get_manifest()
