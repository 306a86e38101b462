"""The HTTP seam: one ``aiohttp.ClientSession`` per operation, auth, redirects, error mapping.

- ``trust_env=True`` honours HTTPS_PROXY / HTTP_PROXY / NO_PROXY; a custom CA bundle arrives as an
  explicit ``ssl.SSLContext`` in :class:`TransferOptions`; ``insecure`` turns TLS verification off.
- Redirects are followed here, not by aiohttp, so that the ``Authorization`` header is attached only
  to requests for the registry host it belongs to; a 307 to a CDN host gets no credentials.
- aiohttp and socket errors become :class:`TransferError` at this seam; callers never see aiohttp
  exceptions (they may retry a ``TransferError``).
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from types import TracebackType
from typing import Any
from urllib.parse import urljoin, urlsplit

import aiohttp
from yarl import URL

from registry.bounded_json import loads_bounded
from registry.errors import Denied, TransferError, Unauthorized
from registry.remote.auth import Authenticator
from registry.remote.options import TransferOptions

__all__ = ["ProtocolError", "RequestRefused", "Transport", "converted_errors", "host_of", "raise_for_status"]

_REDIRECTS = (301, 302, 303, 307, 308)
_MAX_HOPS = 10

BodyFactory = Callable[[], Any]


class ProtocolError(TransferError):
    """The registry broke the protocol (e.g. a 206 at the wrong offset): retrying will not help."""


class RequestRefused(ProtocolError):
    """The registry answered a 4xx other than 401, 403, 408 and 429 (a 405 from a mirror, a 400):
    an answer, not a failure, so retrying will not help (retry loops re-raise it at once)."""


#: 4xx statuses worth another try: a timeout, too many requests (401 and 403 have their own errors).
_RETRYABLE_4XX = frozenset({408, 429})


def host_of(url: str) -> str:
    """``host[:port]`` of a URL, lower-cased: the unit credentials are bound to."""
    return urlsplit(url).netloc.lower()


@asynccontextmanager
async def converted_errors(what: str) -> AsyncIterator[None]:
    """Turn aiohttp/socket/timeout errors inside the block into :class:`TransferError`."""
    try:
        yield
    except (TimeoutError, aiohttp.ClientError, ConnectionError) as err:
        detail = str(err) or type(err).__name__
        if isinstance(err, asyncio.TimeoutError):
            detail = "no data received before the stall timeout"
        raise TransferError(f"{what}: {detail}") from err


async def raise_for_status(resp: aiohttp.ClientResponse, what: str) -> None:
    """Raise the domain error for a failed response (reading a short excerpt of its body).

    401 -> :class:`Unauthorized`; 403 -> :class:`Denied`; 408, 429 and 5xx -> :class:`TransferError`
    (retried); any other 4xx -> :class:`RequestRefused` (not retried); each names the status and the
    registry's message.
    """
    if resp.status < 400:
        return
    try:
        excerpt = (await resp.content.read(2048)).decode(errors="replace").strip()
    except (TimeoutError, aiohttp.ClientError):
        excerpt = ""
    message = _registry_message(excerpt)
    if resp.status == 401:
        raise Unauthorized(f"unauthorized: access denied ({what})")
    if resp.status == 403:
        raise Denied(f"denied: {what}: {message or 'forbidden'}")
    if resp.status == 429 and not message and resp.headers.get("Retry-After", "").isdigit():
        message = f"too many requests (too many failed logins?); retry in {resp.headers['Retry-After']} s"
    if resp.status < 500 and resp.status not in _RETRYABLE_4XX:
        raise RequestRefused(f"{what}: {resp.status}: {message or resp.reason}")
    raise TransferError(f"{what}: {resp.status}: {message or resp.reason}")


def _registry_message(body: str) -> str:
    try:
        doc = loads_bounded(body, 16, strict_numbers=False)
    except ValueError:  # not JSON, or a hostile registry's deep nesting
        return body[:300]
    if isinstance(doc, dict) and isinstance(doc.get("errors"), list) and doc["errors"]:
        first = doc["errors"][0]
        if isinstance(first, dict):
            return f"{first.get('code', '')} {first.get('message', '')}".strip()
    if isinstance(doc, dict) and isinstance(doc.get("error"), str):
        return str(doc["error"])
    return body[:300]


class Transport:
    """An HTTP client for one operation. Use as ``async with Transport(options) as t``."""

    def __init__(self, options: TransferOptions) -> None:
        self.options = options
        self._session: aiohttp.ClientSession | None = None
        self.auth = Authenticator(
            options.credentials,
            self._fetch_token,
            options.signing_key,
            options.signing_hosts,
            same_host_realm_only=options.same_host_realm_only,
            remember_refusals=options.remember_refusals,
        )

    async def __aenter__(self) -> Transport:
        ssl_arg: ssl.SSLContext | bool = self.options.ssl_context or True
        if self.options.insecure:
            ssl_arg = False
        connector = aiohttp.TCPConnector(
            ssl=ssl_arg,
            limit=self.options.max_connections,
            limit_per_host=self.options.max_connections_per_host,
        )
        timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=self.options.connect_timeout, sock_read=self.options.stall_timeout
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=timeout,
            trust_env=self.options.trust_env,
            auto_decompress=False,
            read_bufsize=2 << 20,
            headers={"User-Agent": self.options.user_agent},
        )
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def session(self) -> aiohttp.ClientSession:
        """The open session (inside ``async with``)."""
        if self._session is None:
            raise RuntimeError("Transport used outside 'async with'")
        return self._session

    async def _fetch_token(self, url: str, headers: dict[str, str]) -> tuple[int, object]:
        """GET a token URL exactly as built (``encoded=True``: a signed URL must not be re-quoted)."""
        async with (
            converted_errors("token request"),
            self.session.get(URL(url, encoded=True), headers=headers) as resp,
        ):
            try:  # (an error's JSON body carries the registry's words)
                return resp.status, await resp.json(content_type=None)
            except ValueError:
                return resp.status, None

    @asynccontextmanager
    async def request(
        self,
        method: str,
        url: str,
        *,
        scope: str,
        headers: dict[str, str] | None = None,
        body: BodyFactory | None = None,
        follow_redirects: bool = True,
    ) -> AsyncIterator[aiohttp.ClientResponse]:
        """Send a request with auth; answer 401 challenges once; follow redirects safely.

        ``body`` is a factory so the body can be sent again after a 401. The response is released
        when the block exits. Raises :class:`TransferError` (network), :class:`Unauthorized`.
        """
        origin = host_of(url)
        answered = False
        for _ in range(_MAX_HOPS + 2):
            sent = dict(headers or {})
            if host_of(url) == origin:
                value = self.auth.header_for(origin, scope)
                if value is not None:
                    sent["Authorization"] = value
            async with converted_errors(f"{method} {_short(url)}"):
                resp = await self.session.request(
                    method, url, headers=sent, data=body() if body else None, allow_redirects=False
                )
            try:
                if resp.status == 401 and host_of(url) == origin and not answered:
                    answered = True
                    challenge = resp.headers.get("WWW-Authenticate")
                    resp.release()
                    await self.auth.answer(origin, scope, challenge, sent.get("Authorization"))
                    continue
                if resp.status == 401 and host_of(url) == origin:
                    refused = self.auth.refusal(origin, sent.get("Authorization"))
                    if refused is not None:
                        raise Unauthorized(refused)
                if follow_redirects and resp.status in _REDIRECTS and "Location" in resp.headers:
                    url = urljoin(url, resp.headers["Location"])
                    if resp.status == 303:
                        method, body = "GET", None
                    resp.release()
                    continue
                yield resp
                return
            finally:
                resp.release()
        raise TransferError(f"{method} {_short(url)}: more than {_MAX_HOPS} redirects")


def _short(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"
