"""One domain error tree for the whole of ollama-py.

Every error raised on purpose by library code is an :class:`OllamaPyError`. Each class carries an
OCI error ``code`` (the registry server maps codes to HTTP statuses and ``{"errors": [...]}`` in one
place; the Ollama API maps them to ``{"error": "..."}`` in another). No class knows an HTTP status.
Each also subclasses the builtin that best describes it, so callers may catch ``ValueError`` or
``LookupError`` where that reads better.

    OllamaPyError
    ├── InvalidInput (ValueError)               client mistakes: anything a person typed wrong
    │   ├── InvalidName          NAME_INVALID
    │   ├── InvalidDigest        DIGEST_INVALID
    │   ├── InvalidManifest      MANIFEST_INVALID
    │   │   └── ManifestBlobUnknown  MANIFEST_BLOB_UNKNOWN  (a manifest names a blob the repo lacks)
    │   ├── InvalidRange         RANGE_INVALID
    │   ├── InvalidTag           TAG_INVALID
    │   ├── SizeInvalid          SIZE_INVALID
    │   │   └── TooLarge         SIZE_INVALID   a body or upload exceeds a configured limit
    │   ├── InvalidModelfile     MODELFILE_INVALID
    │   ├── InvalidWeights       MODEL_INVALID      a weights file (GGUF) that is not what it claims
    │   └── Unsupported          UNSUPPORTED
    ├── NotFound (LookupError)
    │   ├── ModelNotFound        MANIFEST_UNKNOWN
    │   ├── BlobNotFound         BLOB_UNKNOWN
    │   ├── UploadNotFound       BLOB_UPLOAD_UNKNOWN
    │   └── NameUnknown          NAME_UNKNOWN   no such repository
    ├── DigestMismatch (ValueError)  DIGEST_INVALID   bytes did not hash to what was promised
    ├── StoreError (OSError)         store/disk trouble
    │   ├── DiskFull             the filesystem is full; partial data is kept
    │   ├── StoreLayoutError     the root is not ours (e.g. an Ollama directory)
    │   └── CatalogError         the database failed (wraps sqlalchemy errors at the catalog seam)
    ├── TransferError (ConnectionError)  a remote registry failed us after retries
    ├── Unauthorized (PermissionError)   UNAUTHORIZED
    ├── Denied (PermissionError)         DENIED
    ├── RateLimited                      TOOMANYREQUESTS  too many failed logins; retry after a while
    ├── ServerBusy                       the model server's queue is full (Ollama: 503)
    └── RunnerError (RuntimeError)       a model runner failed to load or died mid-request
"""

from __future__ import annotations

__all__ = [
    "BlobNotFound",
    "CatalogError",
    "Denied",
    "DigestMismatch",
    "DiskFull",
    "InvalidDigest",
    "InvalidInput",
    "InvalidManifest",
    "InvalidModelfile",
    "InvalidName",
    "InvalidRange",
    "InvalidTag",
    "InvalidWeights",
    "ManifestBlobUnknown",
    "ModelNotFound",
    "NameUnknown",
    "NotFound",
    "OllamaPyError",
    "RateLimited",
    "RunnerError",
    "ServerBusy",
    "SizeInvalid",
    "StoreError",
    "StoreLayoutError",
    "TooLarge",
    "TransferError",
    "Unauthorized",
    "Unsupported",
    "UploadNotFound",
]


class OllamaPyError(Exception):
    """Root of every deliberate ollama-py error. ``str(err)`` is a message for a person."""

    code: str = "UNKNOWN"

    def __init__(self, message: str, *, detail: object = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail

    def __str__(self) -> str:
        return self.message


class InvalidInput(OllamaPyError, ValueError):
    """The caller gave us something malformed. Always the caller's fault; never retried."""

    code = "INVALID"


class InvalidName(InvalidInput):
    """A model or repository name does not follow the grammar."""

    code = "NAME_INVALID"


class InvalidDigest(InvalidInput):
    """A digest string is not ``sha256:<64 lowercase hex>`` (``sha256-`` is accepted too)."""

    code = "DIGEST_INVALID"


class InvalidManifest(InvalidInput):
    """A manifest is not valid JSON or not a manifest we understand."""

    code = "MANIFEST_INVALID"


class ManifestBlobUnknown(InvalidManifest):
    """A manifest references a blob or manifest that is not in its repository."""

    code = "MANIFEST_BLOB_UNKNOWN"


class InvalidRange(InvalidInput):
    """An HTTP Range or Content-Range value cannot be satisfied or parsed."""

    code = "RANGE_INVALID"


class InvalidTag(InvalidInput):
    """A tag does not follow the grammar."""

    code = "TAG_INVALID"


class SizeInvalid(InvalidInput):
    """A declared size does not match the content, or exceeds a limit."""

    code = "SIZE_INVALID"


class TooLarge(SizeInvalid):
    """A request body, manifest or upload exceeds a configured limit."""


class InvalidModelfile(InvalidInput):
    """A Modelfile cannot be parsed or names something that does not exist."""

    code = "MODELFILE_INVALID"


class InvalidWeights(InvalidInput):
    """A weights file is not a GGUF, is truncated or malformed, or llama.cpp cannot load it."""

    code = "MODEL_INVALID"


class Unsupported(InvalidInput):
    """The request is well formed but asks for something we do not do."""

    code = "UNSUPPORTED"


class NotFound(OllamaPyError, LookupError):
    """The named thing does not exist."""

    code = "NOT_FOUND"


class ModelNotFound(NotFound):
    """No model (tag or manifest) by that name."""

    code = "MANIFEST_UNKNOWN"


class BlobNotFound(NotFound):
    """No blob with that digest."""

    code = "BLOB_UNKNOWN"


class UploadNotFound(NotFound):
    """No upload session with that id."""

    code = "BLOB_UPLOAD_UNKNOWN"


class NameUnknown(NotFound):
    """No repository by that name."""

    code = "NAME_UNKNOWN"


class DigestMismatch(OllamaPyError, ValueError):
    """Content did not hash to the digest it was promised under; nothing was committed."""

    code = "DIGEST_INVALID"


class StoreError(OllamaPyError, OSError):
    """The store could not do its work (disk, permissions, database)."""

    code = "STORE_ERROR"


class DiskFull(StoreError):
    """No space left on the store's filesystem. Partial data is kept for a later retry."""

    code = "DISK_FULL"


class StoreLayoutError(StoreError):
    """The store root is unusable, e.g. it is an Ollama models directory we must not write into."""

    code = "STORE_LAYOUT"


class CatalogError(StoreError):
    """The catalog database failed. Raised at the catalog seam in place of driver errors."""

    code = "CATALOG_ERROR"


class TransferError(OllamaPyError, ConnectionError):
    """A remote registry failed after the bounded retries."""

    code = "TRANSFER_ERROR"


class Unauthorized(OllamaPyError, PermissionError):
    """Credentials are missing or wrong."""

    code = "UNAUTHORIZED"


class Denied(OllamaPyError, PermissionError):
    """Credentials are valid but do not allow this."""

    code = "DENIED"


class RateLimited(OllamaPyError):
    """Too many attempts (e.g. failed logins) from one client or for one account; ``retry_after``
    is how many whole seconds to wait."""

    code = "TOOMANYREQUESTS"

    def __init__(self, message: str, *, retry_after: int, detail: object = None) -> None:
        super().__init__(message, detail=detail)
        self.retry_after = max(1, retry_after)


class ServerBusy(OllamaPyError):
    """Too many requests are waiting for a model; try again later."""

    code = "TOOMANYREQUESTS"


class RunnerError(OllamaPyError, RuntimeError):
    """A model runner could not load the model, or stopped while serving a request."""

    code = "RUNNER_ERROR"
