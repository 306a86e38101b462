"""A fault-injecting OCI registry on loopback, serving fixture trees (aiohttp, real sockets).

It speaks enough of the Distribution API for pull and push (manifests, blob HEAD/GET with Range,
uploads with POST/PATCH/GET/PUT and mounts) and the Ollama registry's quirks (manifests as
``text/plain``, blob GETs redirected with a 307 to a second "CDN" server). ``Faults`` switches on
misbehaviour; ``Counters`` records what crossed the wire so tests can prove resume and dedup.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import secrets
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"


@dataclass
class Faults:
    """Misbehaviour switches. Counts (``*_times``) are consumed as the faults fire."""

    drop_after: int | None = None  # close the connection after this many body bytes ...
    drop_times: int = 0  # ... this many times
    stall_after: int | None = None  # stop sending (keep the socket open) after this many bytes ...
    stall_times: int = 0
    status_500_times: int = 0  # answer blob GETs with 500 this many times
    ignore_range: bool = False  # answer ranged GETs with 200 and the whole blob
    wrong_offset: bool = False  # answer ranged GETs with a 206 one byte off
    wrong_bytes: bool = False  # serve corrupted content ...
    wrong_bytes_hex: str | None = None  # ... only for this blob (hex digest) when set
    redirect_to: str | None = None  # base URL of a CDN server: blob GETs answer 307 there
    token: str | None = None  # demand ``Bearer <token>`` (token endpoint /token)
    issued_token: str | None = None  # what /token hands out (default: ``token``)
    basic: str | None = None  # demand ``Authorization: Basic <this>`` instead
    signed_tokens: bool = False  # /token demands Ollama's ed25519 request signature
    manifest_content_type: str = "text/plain; charset=utf-8"  # Ollama's registry quirk
    send_delay: float = 0.0  # seconds between 64 KiB body pieces (slows the serving down)
    patch_drop_after: int | None = None  # uploads: drop a PATCH after this many bytes ...
    patch_drop_times: int = 0


@dataclass
class Counters:
    """What the server saw and sent."""

    served: Counter[str] = field(default_factory=Counter)  # blob body bytes sent, by hex
    received: int = 0  # upload body bytes stored
    requests: list[tuple[str, str, str | None]] = field(default_factory=list)  # method, path, Authorization
    token_requests: int = 0
    token_signers: list[str] = field(default_factory=list)  # public keys that signed token requests


class Upstream:
    """A registry (or, with ``cdn=True``, a dumb blob CDN) on 127.0.0.1."""

    def __init__(self, *, faults: Faults | None = None, cdn_blobs: dict[str, bytes] | None = None) -> None:
        self.faults = faults or Faults()
        self.counters = Counters()
        self.blobs: dict[str, bytes] = cdn_blobs if cdn_blobs is not None else {}
        self.manifests: dict[tuple[str, str], bytes] = {}
        self.repo_blobs: dict[str, set[str]] = {}
        self.uploads: dict[str, bytearray] = {}
        self._runner: web.AppRunner | None = None
        self._stopping = asyncio.Event()
        self.port = 0

    # ---- fixtures ------------------------------------------------------------------------------

    def add_blob(self, repo: str, data: bytes) -> dict[str, Any]:
        """Store a blob in ``repo``; returns its descriptor fields (digest, size)."""
        hexd = hashlib.sha256(data).hexdigest()
        self.blobs[hexd] = data
        self.repo_blobs.setdefault(repo, set()).add(hexd)
        return {"digest": f"sha256:{hexd}", "size": len(data)}

    def add_model(self, repo: str, tag: str, layers: list[tuple[str, bytes]], config: bytes = b"{}") -> bytes:
        """A model: blobs plus a Docker v2 manifest; returns the manifest bytes."""
        doc = {
            "schemaVersion": 2,
            "mediaType": DOCKER_MANIFEST,
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                **self.add_blob(repo, config),
            },
            "layers": [{"mediaType": mt, **self.add_blob(repo, data)} for mt, data in layers],
        }
        raw = json.dumps(doc).encode()
        self.manifests[(repo, tag)] = raw
        self.manifests[(repo, "sha256:" + hashlib.sha256(raw).hexdigest())] = raw
        return raw

    # ---- lifecycle -----------------------------------------------------------------------------

    @property
    def host(self) -> str:
        """``127.0.0.1:<port>``."""
        return f"127.0.0.1:{self.port}"

    async def start(self) -> Upstream:
        """Listen on an ephemeral loopback port."""
        app = web.Application(client_max_size=1 << 34)
        app.router.add_route("*", "/token", self.token)
        app.router.add_route("*", "/cdn/{hex}", self.cdn_blob)
        app.router.add_route("*", "/v2/{repo:.+}/manifests/{ref}", self.manifest)
        app.router.add_route("*", "/v2/{repo:.+}/blobs/uploads/{uuid}", self.upload)
        app.router.add_route("POST", "/v2/{repo:.+}/blobs/uploads/", self.start_upload)
        app.router.add_route("*", "/v2/{repo:.+}/blobs/{digest}", self.blob)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        """Close the listener and every connection."""
        self._stopping.set()
        if self._runner is not None:
            await self._runner.cleanup()

    # ---- handlers ------------------------------------------------------------------------------

    def _log(self, request: web.Request) -> None:
        self.counters.requests.append((request.method, request.path, request.headers.get("Authorization")))

    def _authorized(self, request: web.Request) -> web.Response | None:
        if self.faults.basic is not None:
            if request.headers.get("Authorization") == f"Basic {self.faults.basic}":
                return None
            return web.json_response(
                {"errors": [{"code": "UNAUTHORIZED", "message": "authentication required"}]},
                status=401,
                headers={"WWW-Authenticate": 'Basic realm="fixture"'},
            )
        if self.faults.token is None:
            return None
        if request.headers.get("Authorization") == f"Bearer {self.faults.token}":
            return None
        realm = f"http://{self.host}/token"
        scope = f"repository:{request.match_info.get('repo', '')}:pull"
        challenge = f'Bearer realm="{realm}",service="{self.host}",scope="{scope}"'
        return web.json_response(
            {"errors": [{"code": "UNAUTHORIZED", "message": "authentication required"}]},
            status=401,
            headers={"WWW-Authenticate": challenge},
        )

    async def token(self, request: web.Request) -> web.Response:
        self._log(request)
        self.counters.token_requests += 1
        if self.faults.signed_tokens:
            signer = _check_ollama_signature(request, f"http://{self.host}{request.raw_path}")
            if signer is None:
                return web.json_response({"error": "bad signature"}, status=401)
            self.counters.token_signers.append(signer)
        return web.json_response({"token": self.faults.issued_token or self.faults.token})

    async def manifest(self, request: web.Request) -> web.Response:
        self._log(request)
        if (denied := self._authorized(request)) is not None:
            return denied
        key = (request.match_info["repo"], request.match_info["ref"])
        if request.method == "PUT":
            raw = await request.read()
            self.manifests[key] = raw
            self.manifests[(key[0], "sha256:" + hashlib.sha256(raw).hexdigest())] = raw
            return web.Response(status=201)
        raw = self.manifests.get(key)
        if raw is None:
            return web.json_response(
                {"errors": [{"code": "MANIFEST_UNKNOWN", "message": "manifest unknown"}]}, status=404
            )
        return web.Response(body=raw, headers={"Content-Type": self.faults.manifest_content_type})

    async def blob(self, request: web.Request) -> web.StreamResponse:
        self._log(request)
        if (denied := self._authorized(request)) is not None:
            return denied
        hexd = request.match_info["digest"].removeprefix("sha256:")
        if hexd not in self.blobs or hexd not in self.repo_blobs.get(request.match_info["repo"], set()):
            return web.json_response(
                {"errors": [{"code": "BLOB_UNKNOWN", "message": "blob unknown"}]}, status=404
            )
        if request.method == "HEAD":
            return web.Response(
                headers={"Content-Length": str(len(self.blobs[hexd])), "Accept-Ranges": "bytes"}
            )
        if self.faults.redirect_to:
            raise web.HTTPTemporaryRedirect(
                f"{self.faults.redirect_to}/cdn/{hexd}?sig={secrets.token_hex(4)}"
            )
        return await self.send_blob(request, hexd)

    async def cdn_blob(self, request: web.Request) -> web.StreamResponse:
        self._log(request)
        hexd = request.match_info["hex"]
        if hexd not in self.blobs:
            raise web.HTTPNotFound()
        return await self.send_blob(request, hexd)

    async def send_blob(self, request: web.Request, hexd: str) -> web.StreamResponse:
        """Serve a blob honouring Range, with the configured faults."""
        faults = self.faults
        data = self.blobs[hexd]
        if faults.status_500_times > 0:
            faults.status_500_times -= 1
            return web.Response(status=500, text="injected failure")
        if faults.wrong_bytes and faults.wrong_bytes_hex in (None, hexd):
            data = bytes(b ^ 0xFF for b in data[:16]) + data[16:]
        start, end, status = 0, len(data), 200
        rng = request.headers.get("Range")
        if rng and not faults.ignore_range:
            first, _, last = rng.removeprefix("bytes=").partition("-")
            start, end, status = int(first), (int(last) + 1 if last else len(data)), 206
        headers = {"Content-Length": str(end - start), "Content-Type": "application/octet-stream"}
        if status == 206:
            shown = start + 1 if faults.wrong_offset else start
            headers["Content-Range"] = f"bytes {shown}-{end - 1}/{len(data)}"
        response = web.StreamResponse(status=status, headers=headers)
        await response.prepare(request)
        await self._stream(request, response, hexd, data[start:end])
        return response

    async def _stream(
        self, request: web.Request, response: web.StreamResponse, hexd: str, body: bytes
    ) -> None:
        faults = self.faults
        sent = 0
        piece = 64 * 1024
        while sent < len(body):
            if faults.drop_after is not None and faults.drop_times > 0 and sent >= faults.drop_after:
                faults.drop_times -= 1
                assert request.transport is not None
                request.transport.abort()
                return
            if faults.stall_after is not None and faults.stall_times > 0 and sent >= faults.stall_after:
                faults.stall_times -= 1
                await self._stopping.wait()
                return
            chunk = body[sent : sent + piece]
            await response.write(chunk)
            self.counters.served[hexd] += len(chunk)
            sent += len(chunk)
            if faults.send_delay:
                await asyncio.sleep(faults.send_delay)
        await response.write_eof()

    # ---- uploads -------------------------------------------------------------------------------

    async def start_upload(self, request: web.Request) -> web.Response:
        self._log(request)
        repo = request.match_info["repo"]
        mount = request.query.get("mount")
        if mount and mount.removeprefix("sha256:") in self.repo_blobs.get(
            request.query.get("from", ""), set()
        ):
            self.repo_blobs.setdefault(repo, set()).add(mount.removeprefix("sha256:"))
            return web.Response(status=201, headers={"Location": f"/v2/{repo}/blobs/{mount}"})
        uuid = secrets.token_hex(8)
        self.uploads[uuid] = bytearray()
        return web.Response(
            status=202, headers={"Location": f"/v2/{repo}/blobs/uploads/{uuid}", "Range": "0-0"}
        )

    async def upload(self, request: web.Request) -> web.Response:
        self._log(request)
        repo, uuid = request.match_info["repo"], request.match_info["uuid"]
        buf = self.uploads.get(uuid)
        if buf is None:
            return web.json_response(
                {"errors": [{"code": "BLOB_UPLOAD_UNKNOWN", "message": "?"}]}, status=404
            )
        location = {"Location": f"/v2/{repo}/blobs/uploads/{uuid}"}
        if request.method == "GET":
            return web.Response(status=204, headers={**location, "Range": f"0-{max(0, len(buf) - 1)}"})
        if request.method == "PATCH":
            crange = request.headers.get("Content-Range")
            if crange and int(crange.split("-")[0]) != len(buf):
                return web.Response(status=416, headers={**location, "Range": f"0-{max(0, len(buf) - 1)}"})
            await self._receive(request, buf)
            return web.Response(status=202, headers={**location, "Range": f"0-{max(0, len(buf) - 1)}"})
        if request.method == "PUT":
            await self._receive(request, buf)
            hexd = request.query["digest"].removeprefix("sha256:")
            if hashlib.sha256(buf).hexdigest() != hexd:
                return web.json_response(
                    {"errors": [{"code": "DIGEST_INVALID", "message": "digest"}]}, status=400
                )
            self.blobs[hexd] = bytes(buf)
            self.repo_blobs.setdefault(repo, set()).add(hexd)
            del self.uploads[uuid]
            return web.Response(status=201, headers={"Location": f"/v2/{repo}/blobs/sha256:{hexd}"})
        raise web.HTTPMethodNotAllowed(request.method, ["GET", "PATCH", "PUT"])

    async def _receive(self, request: web.Request, buf: bytearray) -> None:
        got = 0
        async for chunk in request.content.iter_any():
            buf += chunk
            got += len(chunk)
            self.counters.received += len(chunk)
            limit = self.faults.patch_drop_after
            if limit is not None and self.faults.patch_drop_times > 0 and got >= limit:
                self.faults.patch_drop_times -= 1
                assert request.transport is not None
                request.transport.abort()
                return
            if self.faults.send_delay:
                await asyncio.sleep(self.faults.send_delay)


def _check_ollama_signature(request: web.Request, url: str) -> str | None:
    """Verify ``Authorization: <b64 ssh public key>:<b64 signature>`` over Ollama's signed string."""
    import base64
    import struct

    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    if "ts" not in request.query or "nonce" not in request.query:
        return None
    try:
        public_b64, signature_b64 = request.headers["Authorization"].split(":", 1)
        wire = base64.b64decode(public_b64)
        (kind_len,) = struct.unpack(">I", wire[:4])
        raw_key = wire[4 + kind_len + 4 :]
        body_hash = base64.b64encode(hashlib.sha256(b"").hexdigest().encode()).decode()
        Ed25519PublicKey.from_public_bytes(raw_key).verify(
            base64.b64decode(signature_b64), f"GET,{url},{body_hash}".encode()
        )
    except (KeyError, ValueError, InvalidSignature, struct.error):
        return None
    return public_b64
