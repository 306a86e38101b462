"""A minimal client for the one upstream registry a mirror may contact.

Only URLs under the configured base are requested (blob redirects to the upstream's storage/CDN are
followed by aiohttp, as every registry client does; the *client of the mirror* never chooses a host).
Anonymous Bearer tokens are fetched when the upstream challenges, only from a realm on the same host.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit

import aiohttp

from registry.errors import BlobNotFound, ModelNotFound, TransferError
from registry.oci import mediatypes

__all__ = ["Upstream"]

_ACCEPT = ", ".join(
    [
        mediatypes.OCI_MANIFEST,
        mediatypes.OCI_INDEX,
        mediatypes.DOCKER_MANIFEST,
        mediatypes.DOCKER_MANIFEST_LIST,
    ]
)
_CHALLENGE_RE = re.compile(r'(\w+)="([^"]*)"')


class Upstream:
    """HTTP access to ``base_url``'s /v2/ API."""

    def __init__(self, base_url: str, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._host = urlsplit(self.base_url).netloc
        self._timeout = aiohttp.ClientTimeout(total=None, connect=timeout, sock_read=timeout)
        self._session: aiohttp.ClientSession | None = None
        self._tokens: dict[str, str] = {}

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout, auto_decompress=False)
        return self._session

    @asynccontextmanager
    async def request(
        self, method: str, repo: str, path: str, accept: str | None = None
    ) -> AsyncIterator[aiohttp.ClientResponse]:
        """``method`` on ``/v2/<repo>/<path>``; yields the response. Raises :class:`TransferError`."""
        url = f"{self.base_url}/v2/{repo}/{path}"
        for attempt in range(2):
            headers = {"Accept": accept} if accept else {}
            token = self._tokens.get(repo)
            if token:
                headers["Authorization"] = f"Bearer {token}"
            try:
                response = await self._http().request(method, url, headers=headers)
            except (TimeoutError, aiohttp.ClientError, OSError) as err:
                raise TransferError(f"upstream {self._host} is unreachable: {err}") from err
            if response.status == 401 and attempt == 0 and await self._authenticate(response, repo):
                response.release()
                continue
            try:
                yield response
            finally:
                response.release()
            return

    async def _authenticate(self, response: aiohttp.ClientResponse, repo: str) -> bool:
        challenge = response.headers.get("WWW-Authenticate", "")
        if not challenge.lower().startswith("bearer "):
            return False
        params = dict(_CHALLENGE_RE.findall(challenge))
        realm = params.get("realm", "")
        if urlsplit(realm).netloc != self._host:
            return False  # never contact another host
        query = {"service": params.get("service", ""), "scope": f"repository:{repo}:pull"}
        try:
            async with self._http().get(realm, params=query) as r:
                if r.status != 200:
                    return False
                body = await r.json(content_type=None)
        except (TimeoutError, aiohttp.ClientError, ValueError):
            return False
        token = body.get("token") or body.get("access_token")
        if not isinstance(token, str):
            return False
        self._tokens[repo] = token
        return True

    async def manifest(self, repo: str, reference: str) -> tuple[bytes, str | None]:
        """``(bytes, Content-Type)`` of a manifest. Raises ModelNotFound (404) / TransferError."""
        async with self.request("GET", repo, f"manifests/{reference}", accept=_ACCEPT) as r:
            if r.status == 404:
                raise ModelNotFound(
                    "manifest unknown to registry (upstream)", detail={"reference": reference}
                )
            if r.status != 200:
                raise TransferError(f"upstream answered {r.status} for manifest {repo}:{reference}")
            body = await r.read()
            return body, r.headers.get("Content-Type", "").split(";", 1)[0] or None

    async def close(self) -> None:
        """Close connections. Idempotent."""
        if self._session is not None:
            await self._session.close()
            self._session = None


def raise_for_blob_status(status: int, digest: str) -> None:
    """Map an upstream blob status to the domain error (404 -> BlobNotFound, other non-2xx -> TransferError)."""
    if status == 404:
        raise BlobNotFound("blob unknown to registry (upstream)", detail={"digest": digest})
    if status >= 300:
        raise TransferError(f"upstream answered {status} for blob {digest}")
