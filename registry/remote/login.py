"""Checking a username and password against a registry before ``ollama-py login`` stores them.

``GET /v2/`` with the credentials through the same :class:`Transport` as pull and push: a Basic
challenge is answered with them, a Bearer challenge with a token request that carries them. A
registry that answers ``/v2/`` without a challenge (anonymous access on) is taken at its word, as
``docker login`` does.
"""

from __future__ import annotations

import ssl
from dataclasses import replace

from registry.errors import TransferError, Unauthorized
from registry.remote.credentials import BasicCredentials, CredentialStore
from registry.remote.options import TransferOptions
from registry.remote.transport import Transport, raise_for_status

__all__ = ["verify_login"]


async def verify_login(host: str, credentials: BasicCredentials, options: TransferOptions) -> None:
    """Whether ``host`` accepts ``credentials`` (``http`` with ``options.insecure``, else https).

    Raises:
        Unauthorized: the registry refused them ("wrong username or password").
        TransferError: the registry could not be reached; over https, the message suggests
            ``--insecure`` for a plain-http registry.
    """
    scheme = "http" if options.insecure else "https"
    options = replace(
        options, credentials=CredentialStore({host.lower(): credentials}), remember_refusals=False
    )
    try:
        async with (
            Transport(options) as transport,
            transport.request("GET", f"{scheme}://{host}/v2/", scope="") as resp,
        ):
            if resp.status == 401:
                raise Unauthorized("refused")
            await raise_for_status(resp, f"login to {host}")
    except Unauthorized as err:
        raise Unauthorized(f"login to {host} failed: wrong username or password") from err
    except TransferError as err:
        if scheme == "https" and _looks_like_plain_http(err):
            raise TransferError(
                f"login to {host}: it does not answer over https ({err}); "
                "for a plain-http registry add --insecure"
            ) from err
        raise


def _looks_like_plain_http(err: BaseException) -> bool:
    """Whether a TLS handshake failed (the usual sign of an http-only server)."""
    cause: BaseException | None = err
    while cause is not None:
        if isinstance(cause, ssl.SSLError):
            return True
        cause = cause.__cause__ or cause.__context__
    return "ssl" in str(err).lower() or "wrong version number" in str(err).lower()
