"""Domain errors -> OCI error responses ``{"errors": [{"code", "message", "detail"}]}``. The one mapping site.

Statuses follow the distribution spec: 400 for malformed input (``NAME_INVALID``, ``DIGEST_INVALID``,
``MANIFEST_INVALID``, ``MANIFEST_BLOB_UNKNOWN``, ``SIZE_INVALID``), 404 for unknown things, 413 for
bodies over a limit, 416 for upload chunks that do not continue the session, 401/403 for auth. Codes
outside the spec's table are reported as ``UNSUPPORTED`` so clients only ever see codes they know.
A 500 is a bug and is logged.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Mapping

from aiohttp import web

from registry import errors
from registry.ociserver.http.raw_body import BODY_DETACHED

__all__ = ["SPEC_CODES", "error_middleware", "oci_error_response", "status_for"]

log = logging.getLogger(__name__)

SPEC_CODES = frozenset(
    {
        "BLOB_UNKNOWN",
        "BLOB_UPLOAD_INVALID",
        "BLOB_UPLOAD_UNKNOWN",
        "DIGEST_INVALID",
        "MANIFEST_BLOB_UNKNOWN",
        "MANIFEST_INVALID",
        "MANIFEST_UNKNOWN",
        "NAME_INVALID",
        "NAME_UNKNOWN",
        "SIZE_INVALID",
        "UNAUTHORIZED",
        "DENIED",
        "UNSUPPORTED",
        "TOOMANYREQUESTS",
        "TAG_INVALID",  # legacy Docker code, allowed by the spec
    }
)

_STATUS: tuple[tuple[type[errors.OllamaPyError], int], ...] = (
    (errors.TooLarge, 413),
    (errors.InvalidRange, 416),
    (errors.Unsupported, 405),
    (errors.InvalidInput, 400),
    (errors.DigestMismatch, 400),
    (errors.NotFound, 404),
    (errors.Unauthorized, 401),
    (errors.Denied, 403),
    (errors.RateLimited, 429),
    (errors.DiskFull, 507),
    (errors.TransferError, 502),
    (errors.CatalogError, 503),
    (errors.StoreError, 500),
)

_HTTP_CODES: Mapping[int, str] = {
    401: "UNAUTHORIZED",
    403: "DENIED",
    413: "SIZE_INVALID",
    429: "TOOMANYREQUESTS",
}


def status_for(err: errors.OllamaPyError) -> int:
    """The HTTP status for a domain error."""
    for cls, status in _STATUS:
        if isinstance(err, cls):
            return status
    return 500


def oci_error_response(
    status: int,
    code: str,
    message: str,
    detail: object = None,
    headers: Mapping[str, str] | None = None,
) -> web.Response:
    """An OCI-shaped JSON error response (``code`` outside the spec table becomes ``UNSUPPORTED``)."""
    entry: dict[str, object] = {"code": code if code in SPEC_CODES else "UNSUPPORTED", "message": message}
    if detail is not None:
        entry["detail"] = detail
    body = json.dumps({"errors": [entry]})
    return web.Response(status=status, text=body, content_type="application/json", headers=headers)


def _from_domain(err: errors.OllamaPyError) -> web.Response:
    status = status_for(err)
    if status >= 500:
        log.error("registry error %s: %s", type(err).__name__, err)
    headers = getattr(err, "headers", None)
    if isinstance(err, errors.RateLimited):
        headers = {**(headers or {}), "Retry-After": str(err.retry_after)}
    detail = err.detail if _is_json(err.detail) else None
    return oci_error_response(status, err.code, str(err), detail, headers)


def _is_json(value: object) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


@web.middleware
async def error_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Turn domain errors and aiohttp's own HTTP errors into OCI-shaped JSON errors."""
    try:
        response = await handler(request)
    except errors.OllamaPyError as err:
        response = _from_domain(err)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = _HTTP_CODES.get(exc.status, "UNSUPPORTED")
        message = exc.reason.lower() if exc.status in (404, 405) else exc.reason
        extra = {k: v for k, v in exc.headers.items() if k.lower() in ("allow", "www-authenticate")}
        response = oci_error_response(exc.status, code, message, headers=extra)
    except (ConnectionResetError, ConnectionError) as err:
        log.info("client went away during %s %s: %s", request.method, request.path, err)
        raise
    except Exception:
        log.exception("unhandled error in %s %s", request.method, request.path)
        response = oci_error_response(500, "UNKNOWN", "internal server error")
    if request.get(BODY_DETACHED):
        response.force_close()  # the HTTP parser did not see the body: the connection cannot be reused
    return response
