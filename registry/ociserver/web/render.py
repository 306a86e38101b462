"""HTML for the web page: Jinja2 templates with autoescaping on for every template, so every value
from a manifest, config or layer is escaped (a template layer holding ``<script>`` shows as text).

The pages carry no inline script or style: the ``Content-Security-Policy`` the routes send allows
only this package's own stylesheet and script.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import jinja2

__all__ = ["PageRenderer", "human_size", "utc_time"]

_HERE = Path(__file__).parent
#: The files served under ``/ui/static/`` (from ``static/``), with their content types.
_STATIC = {
    "ui.css": "text/css",
    "ui.js": "text/javascript",
    "favicon.svg": "image/svg+xml",
}


def human_size(n: int | None) -> str:
    """Bytes as people read them: ``1536`` -> ``1.5 KB`` (powers of 1000, as Ollama shows sizes)."""
    if n is None:
        return ""
    value = float(n)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{n} B"  # pragma: no cover - the loop always returns


def utc_time(seconds: float | None) -> str:
    """UNIX seconds as ``2026-01-02 03:04 UTC`` (empty for None)."""
    if seconds is None:
        return ""
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(seconds))


def iso_time(seconds: float | None) -> str:
    """UNIX seconds as an ISO 8601 UTC timestamp (for ``<time datetime>``)."""
    if seconds is None:
        return ""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


class PageRenderer:
    """The compiled templates and the static files (loaded once, when the application is built).

    Raises:
        OSError: a static file is missing from the package.
    """

    def __init__(self) -> None:
        self._static = {
            name: (kind, (_HERE / "static" / name).read_bytes()) for name, kind in _STATIC.items()
        }
        self._env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(_HERE / "templates"),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self._env.filters["size"] = human_size
        self._env.filters["when"] = utc_time
        self._env.filters["iso"] = iso_time

    def static(self, name: str) -> tuple[str, bytes] | None:
        """``(content type, bytes)`` of a static file, or None for any other name."""
        return self._static.get(name)

    def render(self, template: str, **context: Any) -> str:
        """Render ``template`` (a file name under ``templates/``) with ``context``."""
        return self._env.get_template(template).render(**context)
