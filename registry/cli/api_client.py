"""A small synchronous client of the model server's API (stdlib ``http.client``): JSON calls and
NDJSON streams, with Ollama's error handling (an ``{"error"}`` object or line is fatal)."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from registry.errors import OllamaPyError

__all__ = ["ApiClient", "ApiError", "ServerUnreachable"]


class ApiError(OllamaPyError):
    """The server answered with an error; ``status`` is the HTTP status (0 for a stream error)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class ServerUnreachable(OllamaPyError):
    """No server answers at the configured address."""


class ApiClient:
    """Talks to ``base_url`` (e.g. ``http://127.0.0.1:11434``). Not thread-safe."""

    def __init__(self, base_url: str, *, timeout: float | None = None) -> None:
        parts = urlsplit(base_url)
        self._https = parts.scheme == "https"
        self._host = parts.hostname or "127.0.0.1"
        self._port = parts.port or (443 if self._https else 80)
        self._prefix = parts.path.rstrip("/")
        self._timeout = timeout
        self.base_url = base_url

    def _connection(self) -> http.client.HTTPConnection:
        cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
        return cls(self._host, self._port, timeout=self._timeout)

    def _send(
        self, method: str, path: str, body: Any = None
    ) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
        conn = self._connection()
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json", "Accept": "application/x-ndjson, application/json"}
        try:
            conn.request(method, self._prefix + path, body=data, headers=headers)
            resp = conn.getresponse()
        except (ConnectionError, OSError) as err:
            conn.close()
            raise ServerUnreachable(
                f"could not connect to the ollama-py server at {self.base_url} ({err}): it stopped answering; "
                "start it again with 'ollama-py serve' (with no server, commands use the local store)"
            ) from err
        if resp.status >= 400:
            raw = resp.read()
            conn.close()
            try:
                message = str(json.loads(raw).get("error", ""))
            except (ValueError, AttributeError):
                message = raw.decode("utf-8", errors="replace").strip()
            raise ApiError(resp.status, message or f"{resp.status} {resp.reason}")
        return conn, resp

    def heartbeat(self) -> None:
        """``HEAD /``. Raises ServerUnreachable."""
        conn, resp = self._send("HEAD", "/")
        resp.read()
        conn.close()

    def call(self, method: str, path: str, body: Any = None) -> Any:
        """One JSON request; the decoded answer (None for an empty body). Raises ApiError."""
        conn, resp = self._send(method, path, body)
        try:
            raw = resp.read()
        finally:
            conn.close()
        return json.loads(raw) if raw.strip() else None

    def stream(self, path: str, body: Any) -> Iterator[dict[str, Any]]:
        """POST and yield NDJSON objects. Raises ApiError on an ``{"error"}`` line."""
        conn, resp = self._send("POST", path, body)
        try:
            while True:
                line = resp.readline()
                if not line:
                    return
                if not line.strip():
                    continue
                event = json.loads(line)
                if isinstance(event, dict) and "error" in event:
                    raise ApiError(0, str(event["error"]))
                yield event
        finally:
            conn.close()
