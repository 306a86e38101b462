"""The mirror's binding of the one registry client (:mod:`registry.remote`) to its upstream: the base
URL, how the client is configured, and the client's errors in the mirror's words.

Only URLs under the configured base are requested (redirects to the upstream's storage/CDN are
followed by the client without credentials; the *client of the mirror* never chooses a host).
Bearer tokens are asked for when the upstream challenges, only from a realm on the same host.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from urllib.parse import urlsplit

from registry.errors import BlobNotFound, DigestMismatch, ModelNotFound, TransferError, Unauthorized
from registry.oci.digest import Digest
from registry.remote.credentials import BasicCredentials, CredentialStore
from registry.remote.fetch import BlobSink, RegistryAnswered, fetch_blob, fetch_manifest
from registry.remote.options import TransferOptions
from registry.remote.transport import Transport

__all__ = ["UpstreamLink"]

#: As the mirror's first dedicated client did: no proxy variables, no connection cap per host, 30 s to
#: connect and per read, tokens only from the upstream's host, a refused token asked for again at
#: the next 401 (the Transport lives as long as the server).
_UPSTREAM_OPTIONS = TransferOptions(
    trust_env=False,
    connect_timeout=30.0,
    stall_timeout=30.0,
    max_connections=100,
    max_connections_per_host=0,
    same_host_realm_only=True,
    remember_refusals=False,
)


class UpstreamLink:
    """``base_url``'s /v2/ API through one long-lived :class:`Transport`. ``open()``, then ``close()``."""

    def __init__(self, base_url: str, credentials: BasicCredentials | None = None) -> None:
        """``credentials``: the mirror's login at the upstream (Basic, or sent to its token realm on
        the same host), else anonymous."""
        self.base_url = base_url.rstrip("/")
        self._host = urlsplit(self.base_url).netloc
        options = _UPSTREAM_OPTIONS
        if credentials is not None:
            options = replace(options, credentials=CredentialStore({self._host.lower(): credentials}))
        self._transport = Transport(options)

    async def open(self) -> None:
        """Open the client's connection pool."""
        await self._transport.__aenter__()

    async def close(self) -> None:
        """Close connections. Idempotent."""
        await self._transport.__aexit__(None, None, None)

    async def manifest(self, repo: str, reference: str) -> tuple[bytes, str | None]:
        """``(bytes, Content-Type)`` of a manifest. Raises ModelNotFound (404) / TransferError."""
        async with self._errors(f"manifest {repo}:{reference}"):
            fetched = await fetch_manifest(
                self._transport, self._url(repo, f"manifests/{reference}"), scope=_pull(repo), max_bytes=None
            )
        if fetched is None:
            raise ModelNotFound("manifest unknown to registry (upstream)", detail={"reference": reference})
        return fetched.content, fetched.media_type

    async def blob(self, repo: str, digest: Digest, sink: BlobSink) -> int:
        """Fetch a blob into ``sink``, verified (see :func:`fetch_blob`); its size. Raises
        BlobNotFound (404), TransferError, DigestMismatch (the sink's bytes must be discarded)."""
        try:
            async with self._errors(f"blob {digest}"):
                url = self._url(repo, f"blobs/{digest}")
                return await fetch_blob(self._transport, url, scope=_pull(repo), digest=digest, sink=sink)
        except BlobNotFound as err:
            raise BlobNotFound("blob unknown to registry (upstream)", detail={"digest": str(digest)}) from err
        except DigestMismatch as err:
            raise DigestMismatch(
                f"upstream sent bytes that do not match {digest}; nothing was stored"
            ) from err

    def _url(self, repo: str, path: str) -> str:
        return f"{self.base_url}/v2/{repo}/{path}"

    @asynccontextmanager
    async def _errors(self, what: str) -> AsyncIterator[None]:
        """An unanswerable 401 or another status is a TransferError naming it (502: the cache may
        still answer); a network failure says the upstream is unreachable."""
        try:
            yield
        except RegistryAnswered as err:
            raise TransferError(f"upstream answered {err.status} for {what}") from err
        except Unauthorized as err:
            raise TransferError(f"upstream answered 401 for {what}") from err
        except TransferError as err:
            raise TransferError(f"upstream {self._host} is unreachable: {err}") from err


def _pull(repo: str) -> str:
    return f"repository:{repo}:pull"
