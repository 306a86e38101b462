"""A pull-through mirror only serves what its upstream has: every write route refuses (405)."""

from __future__ import annotations

from aiohttp import web

from registry.errors import Unsupported
from registry.ociserver.http.keys import MIRROR

__all__ = ["refuse_writes_on_mirror"]


def refuse_writes_on_mirror(request: web.Request, refusal: str) -> None:
    """Raise ``Unsupported`` (405) saying ``refusal`` (e.g. "pushing is disabled") on a mirror."""
    if request.app[MIRROR] is not None:
        raise Unsupported(f"this registry is a pull-through mirror: {refusal}")
