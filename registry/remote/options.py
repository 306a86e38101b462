"""Transfer options: every knob of pull and push, passed explicitly (nothing reads the environment).

Defaults were chosen by measurement on loopback (see ``bench/`` and ``docs/transfers.md``): parts of
64 MiB; one stream per blob, widened to 4 when one stream is slower than 200 MiB/s (a WAN, a CDN;
never from a loopback host);
uploads in 128 MiB PATCH chunks, monolithic below 32 MiB.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass

from registry.remote.credentials import CredentialStore
from registry.remote.signing import OllamaKey
from registry.version import VERSION

__all__ = ["TransferOptions"]

MiB = 1 << 20


@dataclass(frozen=True, slots=True)
class TransferOptions:
    """How to talk to registries. Frozen; build one per operation or share it."""

    #: Allow plain http (Ollama's ``--insecure``); also skips TLS verification.
    insecure: bool = False
    #: TLS context for https (e.g. a custom CA bundle); ``None`` = the system default.
    ssl_context: ssl.SSLContext | None = None
    #: Basic credentials (docker ``config.json`` ``auths``); ``None`` = anonymous or tokens only.
    credentials: CredentialStore | None = None
    #: Ollama's ed25519 key (``~/.ollama/id_ed25519``) for signing token requests to ``signing_hosts``.
    signing_key: OllamaKey | None = None
    signing_hosts: frozenset[str] = frozenset({"ollama.com", "registry.ollama.ai", "registry.ollama.com"})
    #: Honour HTTPS_PROXY / HTTP_PROXY / NO_PROXY (aiohttp ``trust_env``).
    trust_env: bool = True
    #: Bandwidth limit in bytes per second for all transfers of one operation; ``None`` = unlimited.
    max_rate: float | None = None
    #: Download part size in bytes (the last part takes the remainder).
    part_size: int = 64 * MiB
    #: Parts of one blob fetched at once (at most). A download starts with one stream and opens
    #: the others only if that stream moved less than ``fast_stream`` bytes/s in ``ramp_after`` s.
    parallel_parts: int = 4
    fast_stream: float = 200 * MiB
    ramp_after: float = 1.0
    #: Widen to parallel parts also from a loopback host (127.0.0.0/8, ::1, localhost). Off: there
    #: a slow stream means a busy CPU, not a slow network, and parallel parts only add work (bytes
    #: that land ahead of the hash are read back from disk).
    widen_on_loopback: bool = False
    #: Blobs of one model transferred at once.
    parallel_blobs: int = 3
    #: Move plain-HTTP bodies from the socket into the file with ``splice(2)`` (Linux; one copy in
    #: the kernel, no Python on the data path; see ``registry.remote.zero_copy``). False: read them
    #: through aiohttp. Either way every byte is hashed before the blob is committed.
    zero_copy: bool = True
    #: No bytes for this long means the connection stalled: reconnect (not a failed pull).
    stall_timeout: float = 30.0
    #: Connect timeout in seconds.
    connect_timeout: float = 30.0
    #: Consecutive failed attempts (without progress) per part or request before giving up.
    max_retries: int = 6
    #: First backoff delay in seconds; doubles per failed attempt up to ``backoff_max``.
    backoff_base: float = 0.5
    backoff_max: float = 8.0
    #: Save part state after this many new bytes per part (bounds what a SIGKILL loses).
    checkpoint_bytes: int = 4 * MiB
    #: fdatasync the partial file after this many bytes (bounds what a power loss loses).
    sync_bytes: int = 256 * MiB
    #: Blobs up to this size are uploaded in one PUT; larger ones in PATCH chunks.
    monolithic_limit: int = 32 * MiB
    #: Upload PATCH chunk size.
    upload_chunk: int = 128 * MiB
    #: User-Agent header.
    user_agent: str = f"ollama-py/{VERSION}"
    #: Connections one :class:`Transport` opens at most, in all and per host (0: no limit).
    max_connections: int = 64
    max_connections_per_host: int = 32
    #: Ask a Bearer token only from a realm on the registry's own host (a server that must never
    #: contact another host, e.g. the pull-through mirror, sets this).
    same_host_realm_only: bool = False
    #: Client-side mirrors (:mod:`registry.remote.mirrors`): pulls from a host try these first.
    #: ``((host, (endpoint, ...)), ...)``, as :func:`registry.remote.mirrors.parse_mirrors` builds it.
    mirrors: tuple[tuple[str, tuple[str, ...]], ...] = ()
    #: A refused token request is final for the Transport's life (one failed login per operation).
    #: A long-lived Transport (the mirror's) sets False: the next 401 asks again.
    remember_refusals: bool = True
