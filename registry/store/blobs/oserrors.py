"""Operating-system errors of the store, turned into domain errors in one place."""

from __future__ import annotations

import errno

from registry.errors import DiskFull, StoreError

__all__ = ["raise_store_error"]


def raise_store_error(err: OSError, what: str) -> None:
    """Re-raise an ``OSError`` as the domain error: :class:`DiskFull` for ENOSPC/EDQUOT."""
    if err.errno in (errno.ENOSPC, errno.EDQUOT):
        raise DiskFull(f"no space left on the store's disk while {what}") from err
    raise StoreError(f"{what} failed: {err.strerror or err}") from err
