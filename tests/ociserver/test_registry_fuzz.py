"""Fuzzing every route of the registry server, run as a real subprocess, with raw HTTP requests.

Routes: ``/v2/`` (base), manifests, blobs, upload sessions (fresh real sessions too), tags,
referrers, ``_catalog``, the token endpoint and ``/metrics``. Inputs: hostile JSON (manifest-shaped
and not), hostile headers (``Content-Range``, ``Range``, ``Authorization`` garbage, huge values)
and hostile paths (traversal, encoded slashes, NUL, huge names). The promise checked:

- every request gets an answer below 500 (the server's own counters must show no 5xx either);
- no request hangs (each has a 20 s socket timeout; the whole suite takes well under a minute);
- memory stays bounded: the server's peak RSS (``VmHWM``) grows by less than 200 MiB.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import socket
import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import aiohttp
import bcrypt
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from tests.support.registry_process import RegistryProcess
from tests.support.registry_server import image_manifest, push_image, sha

TOKEN = "fuzz-static-token-0123456789"
MIB = 1 << 20
_TIMEOUT = 10.0


@dataclass
class Target:
    """The registry subprocess under fuzz."""

    process: RegistryProcess
    port: int
    digest: str  # a manifest that exists (a/b:v1)
    layer: str  # a blob that exists in a/b
    baseline_rss: int  # peak RSS before the fuzz
    log: deque[str]  # the server's last log lines (read all along, so its pipe never fills)

    @property
    def pid(self) -> int:
        return self.process.proc.pid


@dataclass
class Answer:
    status: int | None  # None: the connection closed with no response
    head: str


def send(port: int, method: str, target: str, headers: list[tuple[str, str]], body: bytes) -> Answer:
    """One raw HTTP/1.1 request (``Connection: close``); the status line and headers of the answer."""
    lines = [f"{method} {target} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Connection: close"]
    if not any(k.lower() == "content-length" for k, _ in headers):
        lines.append(f"Content-Length: {len(body)}")
    lines += [f"{k}: {v}" for k, v in headers]
    request = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
    received = bytearray()
    with socket.create_connection(("127.0.0.1", port), timeout=_TIMEOUT) as sock:
        try:
            sock.sendall(request)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered early (e.g. 413) and closed: read what it said
        try:
            while len(received) < 4 * MIB:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                received += chunk
        except ConnectionResetError:
            pass
        except TimeoutError as err:
            raise AssertionError(f"no answer within {_TIMEOUT} s: {method} {target[:200]} {headers}") from err
    head = bytes(received).split(b"\r\n\r\n", 1)[0].decode("latin-1")
    match = re.match(r"HTTP/1\.[01] (\d{3})", head)
    return Answer(int(match.group(1)) if match else None, head)


def peak_rss(pid: int) -> int:
    """The process's peak resident set size in bytes (``VmHWM``)."""
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"^VmHWM:\s+(\d+) kB", status, re.M)
    assert match is not None
    return int(match.group(1)) * 1024


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    root = tmp_path_factory.mktemp("registry-fuzz")
    password_hash = bcrypt.hashpw(b"secret", bcrypt.gensalt(4)).decode()
    config = root / "registry.toml"
    config.write_text(f"""
[server]
max_manifest_bytes = 1048576
[auth]
token_secret = "fuzz-secret-0123456789abcdef0123"
anonymous_pull = true
max_failed_logins = 1000
[[auth.users]]
name = "alice"
password_hash = "{password_hash}"
[[auth.tokens]]
name = "ci"
token = "{TOKEN}"
""")
    process = RegistryProcess("--root", str(root / "store"), "--config", str(config))
    try:
        url = process.url

        async def seed() -> tuple[str, str]:
            async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {TOKEN}"}) as http:
                digest, _ = await push_image(http, url, "a/b", "v1", b"{}", [b"layer"])
            return digest, sha(b"layer")

        digest, layer = asyncio.run(seed())
        port = int(url.rsplit(":", 1)[1])
        log: deque[str] = deque(maxlen=200)
        threading.Thread(target=_drain, args=(process, log), daemon=True).start()
        yield Target(process, port, digest, layer, peak_rss(process.proc.pid), log)
    finally:
        process.stop()


def _drain(process: RegistryProcess, log: deque[str]) -> None:
    assert process.proc.stdout is not None
    for line in process.proc.stdout:
        log.append(line)


# -- strategies ----------------------------------------------------------------------------------

_text = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)
_latin1 = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF, blacklist_characters="\x7f"))

_names = st.one_of(
    st.just("a/b"),
    st.sampled_from(["a/b", "a", "team/m", "a/b/c", "x" * 255, "x" * 256, "y" * 5000]),
    st.sampled_from(["..", "../..", "a/../b", "a/./b", "a//b", "%2e%2e", "a%2Fb", "a%2fb", "%00", "a%00b"]),
    st.sampled_from([".a", "-a", "A/B", "a:b", "a@b", "a b", "é", "a\\b", "~", "a/b/", "/a"]),
    _text.map(lambda t: quote(t, safe="/")),
)
_hex64 = "0123456789abcdef" * 4
_digests = st.one_of(
    st.sampled_from(
        [
            "sha256:" + _hex64,
            "sha256:" + _hex64[:-1],
            "sha256:" + _hex64 + "0",
            "sha256:" + _hex64.upper(),
            "sha512:" + _hex64 * 2,
            "sha512:" + _hex64,
            "sha256:../../../../etc/passwd",
            "sha256:%2e%2e%2f",
            "sha256-" + _hex64,
            "md5:d41d8cd98f00b204e9800998ecf8427e",
            "sha256:",
            ":",
            "sha256:" + "0" * 10_000,
        ]
    ),
    _text.map(lambda t: quote(t, safe=":")),
)
_references = st.one_of(
    _digests,
    st.sampled_from(["v1", "latest", "v1%0A", "v1%0D%0A", "v" * 128, "v" * 129, "-v", ".v", "%20"]),
    _text.map(lambda t: quote(t, safe="")),
)
_upload_ids = st.one_of(
    st.just("FRESH"),  # replaced by a real session's id
    st.sampled_from(["0" * 32, "0" * 31, "../" * 5, "%2e%2e", "x" * 4000]),
    _text.map(lambda t: quote(t, safe="")),
)
_numbers = st.sampled_from(
    ["0", "1", "-1", "10", "99999999999999999999999999", "1e9", "0x10", "", " 5", "NaN", "inf"]
)
_queries = st.dictionaries(
    st.sampled_from(["digest", "n", "last", "mount", "from", "tag", "artifactType", "scope", "service"]),
    st.one_of(_numbers, _digests, _names, _latin1.map(lambda t: quote(t, safe=""))),
    max_size=4,
)


def _route(kind: str, name: str, ref: str, digest: str, upload: str) -> str:
    return {
        "base": "/v2/",
        "catalog": "/v2/_catalog",
        "manifest": f"/v2/{name}/manifests/{ref}",
        "blob": f"/v2/{name}/blobs/{digest}",
        "uploads": f"/v2/{name}/blobs/uploads/",
        "upload": f"/v2/{name}/blobs/uploads/{upload}",
        "tags": f"/v2/{name}/tags/list",
        "referrers": f"/v2/{name}/referrers/{digest}",
        "token": "/v2/token",
        "metrics": "/metrics",
        "raw": name,
    }[kind]


_json_leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=False),
    _text,
)
_json = st.recursive(
    _json_leaves,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(_text, children, max_size=5),
    max_leaves=25,
)
_descriptor = st.fixed_dictionaries(
    {},
    optional={
        "mediaType": st.one_of(_text, _json, st.just("application/vnd.oci.image.layer.v1.tar")),
        "digest": st.one_of(_digests, _json),
        "size": st.one_of(st.integers(min_value=-(10**20), max_value=10**20), _json),
        "annotations": _json,
        "urls": _json,
    },
)
_manifest = st.fixed_dictionaries(
    {},
    optional={
        "schemaVersion": st.one_of(st.just(2), _json),
        "mediaType": st.one_of(
            st.sampled_from(
                [
                    "application/vnd.oci.image.manifest.v1+json",
                    "application/vnd.oci.image.index.v1+json",
                    "application/vnd.docker.distribution.manifest.v2+json",
                ]
            ),
            _json,
        ),
        "config": st.one_of(_descriptor, _json),
        "layers": st.one_of(st.lists(_descriptor, max_size=4), _json),
        "manifests": st.one_of(st.lists(_descriptor, max_size=4), _json),
        "subject": st.one_of(_descriptor, _json),
        "annotations": _json,
    },
)
_bodies = st.one_of(
    st.just(image_manifest(b"{}", [b"layer"])),  # valid in a/b (pushed by the fixture)
    st.binary(max_size=300),
    _json.map(lambda v: json.dumps(v).encode()),
    _manifest.map(lambda v: json.dumps(v).encode()),
    st.sampled_from([b"\xff\xfe", b"{" * 50]),
    st.sampled_from([200, 1000, 5000]).flatmap(
        lambda depth: st.sampled_from(
            [
                b"[" * depth + b"]" * depth,
                b'{"a":' * depth + b"1" + b"}" * depth,
                b'{"schemaVersion":2,"config":' + b'{"a":' * depth + b"1" + b"}" * depth + b"}",
                b"[" * depth,  # deep and unterminated
            ]
        )
    ),
)
_garbage_authorization = st.one_of(
    st.sampled_from(["Basic !!!", "Basic ====", "Bearer ", "Bearer a.b", "Negotiate x", "Basic", "Bearer"]),
    st.binary(max_size=60).map(lambda b: "Basic " + base64.b64encode(b).decode()),
    st.sampled_from(["alice:secret", "alice:wrong", "nobody:x", ":", "alice"]).map(
        lambda c: "Basic " + base64.b64encode(c.encode()).decode()
    ),
    _latin1.map(lambda t: "Bearer " + t),
    st.integers(min_value=1, max_value=7000).map(lambda n: "Bearer " + "A" * n),
)
#: Most requests carry the static token, so write routes are reached, not just refused.
_authorization = st.sampled_from([f"Bearer {TOKEN}"] * 3 + ["garbage"])
_ranges = st.one_of(
    st.sampled_from(
        ["0-9", "10-5", "0-0", "-1-5", "5", "0-99999999999999999999999", "a-b", "bytes 0-9/10", "0-9,10-19"]
    ),
    st.tuples(st.integers(-5, 10**20), st.integers(-5, 10**20)).map(lambda t: f"{t[0]}-{t[1]}"),
    _latin1,
)
_range_requests = st.one_of(
    st.sampled_from(
        ["bytes=0-", "bytes=5-1", "bytes=-0", "bytes=0-1,2-3", "bytes=-99999999999999999999", "items=0-1"]
    ),
    st.tuples(st.integers(-5, 10**20), st.integers(-5, 10**20)).map(lambda t: f"bytes={t[0]}-{t[1]}"),
    _latin1,
)
_content_types = st.one_of(
    st.sampled_from(
        [
            "application/vnd.oci.image.manifest.v1+json",
            "application/vnd.oci.image.index.v1+json",
            "application/vnd.docker.distribution.manifest.v2+json",
            "application/octet-stream",
            "application/json; charset=utf-16",
        ]
    ),
    _latin1,
)
_headers = st.fixed_dictionaries(
    {"Authorization": _authorization},
    optional={
        "Content-Range": _ranges,
        "Range": _range_requests,
        "Content-Type": _content_types,
        "Accept": _latin1,
        "Docker-Content-Digest": _digests,
    },
)
#: Headers that break HTTP framing or size limits (the parser refuses them): a quarter of requests.
_framing = st.one_of(
    st.just({}),
    st.just({}),
    st.just({}),
    st.fixed_dictionaries(
        {},
        optional={
            "Content-Length": st.sampled_from(["abc", "-1", "1e3", " ", "0x10", "+5"]),
            # (never a bare "chunked": a body not chunk-encoded would make the server wait for more)
            "Transfer-Encoding": st.sampled_from(["gzip", "identity", "chunked, gzip", "x"]),
            "Content-Encoding": st.sampled_from(["gzip", "br", "deflate", "x"]),
            "X-Huge": st.integers(min_value=1, max_value=7000).map(lambda n: "h" * n),
        },
    ),
)
_kinds = st.sampled_from(
    [
        "base",
        "catalog",
        "manifest",
        "blob",
        "uploads",
        "upload",
        "tags",
        "referrers",
        "token",
        "metrics",
        "raw",
    ]
)
_methods = st.sampled_from(["GET", "HEAD", "PUT", "POST", "PATCH", "DELETE", "OPTIONS"])
#: Every route with the methods it serves, drawn more often than any (kind, method) pair.
_served = st.sampled_from(
    [
        ("base", "GET"),
        ("catalog", "GET"),
        ("manifest", "GET"),
        ("manifest", "HEAD"),
        ("manifest", "PUT"),
        ("manifest", "PUT"),
        ("manifest", "DELETE"),
        ("blob", "GET"),
        ("blob", "HEAD"),
        ("blob", "DELETE"),
        ("uploads", "POST"),
        ("upload", "GET"),
        ("upload", "PATCH"),
        ("upload", "PATCH"),
        ("upload", "PUT"),
        ("upload", "DELETE"),
        ("tags", "GET"),
        ("referrers", "GET"),
        ("token", "GET"),
        ("metrics", "GET"),
    ]
)
_routes = st.one_of(_served, _served, st.tuples(_kinds, _methods))


def _start_upload(port: int) -> str:
    answer = send(port, "POST", "/v2/a/b/blobs/uploads/", [("Authorization", f"Bearer {TOKEN}")], b"")
    assert answer.status == 202, answer.head
    match = re.search(r"^Location: *(\S+)", answer.head, re.M | re.I)
    assert match is not None
    return match.group(1).rsplit("/", 1)[1].split("?", 1)[0]


@hsettings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    route=_routes,
    name=_names,
    ref=_references,
    digest=_digests,
    upload=_upload_ids,
    query=_queries,
    headers=_headers,
    framing=_framing,
    garbage=_garbage_authorization,
    body=_bodies,
)
def test_fuzzed_requests_get_an_answer_below_500(
    target: Target,
    route: tuple[str, str],
    name: str,
    ref: str,
    digest: str,
    upload: str,
    query: dict[str, str],
    headers: dict[str, str],
    framing: dict[str, str],
    garbage: str,
    body: bytes,
) -> None:
    kind, method = route
    headers = {**headers, **framing}
    if headers["Authorization"] == "garbage":
        headers["Authorization"] = garbage
    body = body.replace(b"sha256:" + _hex64.encode(), target.layer.encode())  # an existing blob
    if upload == "FRESH":
        upload, name = _start_upload(target.port), "a/b"
    digest = target.layer if digest == "sha256:" + _hex64 else digest  # an existing blob
    ref = target.digest if ref == "sha256:" + _hex64 else ref  # an existing manifest
    path = _route(kind, name, ref, digest, upload)
    if not path.startswith("/"):
        path = "/" + path
    if query:
        path += "?" + "&".join(f"{k}={v}" for k, v in query.items())
    path = "".join(c if 0x21 <= ord(c) <= 0x7E else quote(c) for c in path)
    answer = send(target.port, method, path, list(headers.items()), body)
    assert answer.status is not None, ("no response", method, path, headers, "".join(target.log))
    assert answer.status < 500, (answer.head, method, path, headers, body[:200], "".join(target.log))


def test_zz_after_the_fuzz_no_5xx_and_memory_bounded(target: Target) -> None:
    """Runs after the fuzz (same module): the server's own counters and its peak memory."""
    for _ in range(20):  # large bodies and lying lengths, on top of the fuzz
        answer = send(
            target.port,
            "PUT",
            "/v2/a/b/manifests/big",
            [
                ("Authorization", f"Bearer {TOKEN}"),
                ("Content-Type", "application/vnd.oci.image.manifest.v1+json"),
            ],
            b"[" * (2 * MIB),
        )
        assert answer.status == 413, answer.head
    location = _start_upload(target.port)
    answer = send(
        target.port,
        "PATCH",
        f"/v2/a/b/blobs/uploads/{location}",
        [("Authorization", f"Bearer {TOKEN}"), ("Content-Range", "0-9")],
        b"x" * (8 * MIB),
    )
    assert answer.status is not None and answer.status < 500, answer.head
    for depth in (1000, 5000):  # deep JSON on every route that reads JSON: a 4xx, never a 500
        for body in (b"[" * depth + b"]" * depth, b'{"a":' * depth + b"1" + b"}" * depth):
            for method, path in (
                ("PUT", "/v2/a/b/manifests/deep"),
                ("PUT", f"/v2/a/b/manifests/{target.digest}"),
            ):
                answer = send(
                    target.port,
                    method,
                    path,
                    [
                        ("Authorization", f"Bearer {TOKEN}"),
                        ("Content-Type", "application/vnd.oci.image.manifest.v1+json"),
                    ],
                    body,
                )
                assert answer.status == 400, (depth, answer.head)
    for value in ("99999999999999999999999999", "18446744073709551616"):
        answer = send(target.port, "PUT", "/v2/a/b/manifests/x", [("Content-Length", value)], b"{}")
        assert answer.status is not None and answer.status < 500, answer.head
    answer = send(target.port, "GET", "/metrics", [], b"")
    assert answer.status == 200
    with socket.create_connection(("127.0.0.1", target.port), timeout=_TIMEOUT) as sock:
        sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        text = b""
        while chunk := sock.recv(65536):
            text += chunk
    server_errors = re.findall(
        rb'^registry_http_requests_total\{[^}]*status="5\d\d"[^}]*\} (\S+)', text, re.M
    )
    assert not server_errors, "".join(target.log)
    assert target.process.proc.poll() is None, "the registry died"
    grown = peak_rss(target.pid) - target.baseline_rss
    assert grown < 200 * MIB, f"peak RSS grew by {grown / MIB:.0f} MiB"
