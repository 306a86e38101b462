"""How the mirror reports its cache hits and upstream fetches (the server turns them into metrics)."""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["MirrorCount"]

#: ``count(kind, hit)``: a ``"blob"`` or ``"manifest"`` lookup served from the cache (True) or
#: fetched upstream (False).
MirrorCount = Callable[[str, bool], None]
