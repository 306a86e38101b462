"""Issue 12: the model server's access log (``OLLAMA_PY_ACCESS_LOG=PATH``, ``-`` for stderr), the same
one the registry writes (``registry/access_log.py``): one line per request with time, client, user
(``-``: the model server has no users), method and path, final status, bytes and duration; never a
secret (no header, no query string). A real ``ollama-py serve`` process."""

from __future__ import annotations

import json
import re
import socket
import urllib.error
import urllib.request
from pathlib import Path

from tests.support.serve_process import ServeProcess, cli_env

LINE = re.compile(
    r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ 127\.0\.0\.1 - "(?P<request>[^"]+)" (?P<status>\d{3}) (?P<bytes>\d+) \d+\.\dms$'
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _call(
    url: str, method: str = "GET", body: object = None, headers: dict[str, str] | None = None
) -> tuple[int, bytes]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=60) as r:
            return int(r.status), r.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def test_one_line_per_request_and_no_secret(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    port = _free_port()
    env = cli_env(
        tmp_path / "store", tmp_path / "home", OLLAMA_HOST=f"127.0.0.1:{port}", OLLAMA_PY_ACCESS_LOG=str(log)
    )
    server = ServeProcess(env)
    base = f"http://127.0.0.1:{port}"
    try:
        assert server.listening, server.text()
        status, version = _call(f"{base}/api/version")
        assert status == 200
        assert (
            _call(f"{base}/api/tags?token=query-secret", headers={"Authorization": "Bearer header-secret"})[0]
            == 200
        )
        assert _call(f"{base}/api/show", "POST", {"model": "no-such-model"})[0] == 404
        assert _call(f"{base}/api/version", "HEAD")[0] == 200
        status, streamed = _call(
            f"{base}/api/pull", "POST", {"model": f"127.0.0.1:{_free_port()}/x/y", "insecure": True}
        )
        assert status in (200, 500, 502), streamed  # the stream ends in an error line: no such registry
    finally:
        server.stop()
    lines = log.read_text().splitlines()
    parsed = [LINE.match(line) for line in lines]
    assert all(parsed), lines
    requests = [(m["request"], m["status"], int(m["bytes"])) for m in parsed if m]
    assert requests[0] == ("GET /api/version", "200", len(version))
    assert requests[1][:2] == ("GET /api/tags", "200")
    assert requests[2][:2] == ("POST /api/show", "404") and requests[2][2] > 0
    assert requests[3] == ("HEAD /api/version", "200", 0)
    assert requests[4][0] == "POST /api/pull" and requests[4][2] >= len(
        streamed
    )  # (+ headers, chunk framing)
    assert len(requests) == 5
    text = log.read_text()
    for secret in ("query-secret", "header-secret", "token="):
        assert secret not in text
