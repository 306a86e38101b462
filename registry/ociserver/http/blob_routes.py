"""Routes for blobs and upload sessions (spec end-2, end-4a/b, end-5, end-6, end-10, end-11, end-13, end-14)."""

from __future__ import annotations

import logging
import stat
from pathlib import Path

from aiohttp import web

from registry.errors import BlobNotFound, InvalidDigest
from registry.oci.byte_ranges import parse_byte_range
from registry.oci.digest import Digest
from registry.oci.name import validate_repo
from registry.ociserver.http import threaded_sendfile
from registry.ociserver.http.bodies import has_body, parse_chunk_range
from registry.ociserver.http.keys import AUTH, BLOBS, METRICS, MIRROR, STORE, TRANSFER_THREADS
from registry.ociserver.http.raw_body import RequestBody
from registry.ociserver.http.write_guard import refuse_writes_on_mirror
from registry.ociserver.mirror.fill import FillReader
from registry.ociserver.upload_ids import validate_upload_id

__all__ = ["add_routes"]

log = logging.getLogger(__name__)

_NAME = "{name:.+}"


def add_routes(app: web.Application) -> None:
    """Register the blob and upload routes (uploads first: ``uploads/`` must not read as a digest)."""
    r = app.router
    r.add_post(f"/v2/{_NAME}/blobs/uploads/", start_upload)
    r.add_route("GET", f"/v2/{_NAME}/blobs/uploads/{{upload_id}}", upload_status)
    r.add_route("PATCH", f"/v2/{_NAME}/blobs/uploads/{{upload_id}}", patch_upload)
    r.add_route("PUT", f"/v2/{_NAME}/blobs/uploads/{{upload_id}}", finish_upload)
    r.add_route("DELETE", f"/v2/{_NAME}/blobs/uploads/{{upload_id}}", cancel_upload)
    r.add_get(f"/v2/{_NAME}/blobs/{{digest}}", get_blob)  # HEAD is added by add_get
    r.add_delete(f"/v2/{_NAME}/blobs/{{digest}}", delete_blob)


def _absolute(request: web.Request, path: str) -> str:
    return f"{request.scheme}://{request.host}{path}"


def _repo_and_digest(request: web.Request) -> tuple[str, Digest]:
    return validate_repo(request.match_info["name"]), Digest.parse_oci(request.match_info["digest"])


async def get_blob(request: web.Request) -> web.StreamResponse:
    """GET/HEAD a blob: 200 (or 206 for a Range) with Docker-Content-Digest; zero-copy for local files."""
    repo, digest = _repo_and_digest(request)
    size = await request.app[BLOBS].linked_size(repo, digest)
    mirror = request.app[MIRROR]
    if size is None and mirror is not None:  # a miss of a mirror: a cached copy, or the upstream's
        follow = request.method == "GET" and not request.headers.get("Range")
        found = await mirror.blobs.blob(repo, digest, follow=follow)
        if isinstance(found, FillReader):
            return await _stream_fill(request, digest, found)
        size = found
    elif size is not None and mirror is not None:  # already linked here: served from the cache
        mirror.blobs.count("blob", True)
    if size is None:
        raise BlobNotFound("blob unknown to registry", detail={"digest": str(digest)})
    return await serve_stored_blob(request, digest, size)


async def serve_stored_blob(request: web.Request, digest: Digest, size: int) -> web.StreamResponse:
    """Serve a blob that is in the backend: redirect, sendfile, or stream (with Range)."""
    backend = request.app[STORE].backend
    headers = {
        "Docker-Content-Digest": str(digest),
        "Content-Type": "application/octet-stream",
        "Accept-Ranges": "bytes",
        "Cache-Control": "max-age=31536000",
        "Etag": f'"{digest}"',
    }
    if request.method == "GET":
        url = await backend.presigned_url(digest)
        if url is not None:
            raise web.HTTPTemporaryRedirect(url, headers={"Docker-Content-Digest": str(digest)})
    path = backend.local_path(digest)
    if path is not None:
        _check_stored_file(path, digest, size)
        if threaded_sendfile.applicable(request, size):
            try:
                return await threaded_sendfile.send_whole_file(
                    request, path, size, headers, request.app[TRANSFER_THREADS]
                )
            except FileNotFoundError as err:
                raise BlobNotFound("blob unknown to registry", detail={"digest": str(digest)}) from err
        headers.pop("Etag")
        return web.FileResponse(path, headers=headers)
    span = parse_byte_range(request.headers.get("Range"), size)
    start, end = span if span is not None else (0, size)
    response = web.StreamResponse(status=206 if span is not None else 200, headers=headers)
    if span is not None:
        response.headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
    response.content_length = end - start
    await response.prepare(request)
    if request.method == "GET":
        async for data in backend.open_range(digest, start, end):
            await response.write(data)
    await response.write_eof()
    return response


async def _stream_fill(request: web.Request, digest: Digest, reader: FillReader) -> web.StreamResponse:
    """Stream a mirror fill as it lands (cut short, never wrong, when the fill fails)."""
    response = web.StreamResponse(
        headers={"Docker-Content-Digest": str(digest), "Content-Type": "application/octet-stream"}
    )
    if reader.size is not None:
        response.content_length = reader.size
    await response.prepare(request)
    async for data in reader.chunks():
        await response.write(data)
    await response.write_eof()
    return response


def _check_stored_file(path: Path, digest: Digest, size: int) -> None:
    """Refuse to serve a blob file that is missing or whose size is not the verified one (a file
    damaged on disk, or stored by a version that could publish unhashed bytes): 404, so a client
    pushes it again and the push replaces it."""
    try:
        st = path.stat()
    except FileNotFoundError:
        st = None
    if st is None or not stat.S_ISREG(st.st_mode) or st.st_size != size:
        if st is not None:
            log.error(
                "blob %s: its file has %d bytes but %d were verified; not serving it",
                digest,
                st.st_size,
                size,
            )
        raise BlobNotFound("blob unknown to registry", detail={"digest": str(digest)})


async def delete_blob(request: web.Request) -> web.Response:
    """DELETE a blob from a repository: 202 (its bytes go at the next GC if nothing needs them)."""
    refuse_writes_on_mirror(request, "pushing and deleting are disabled")
    repo, digest = _repo_and_digest(request)
    await request.app[BLOBS].delete(repo, digest)
    return web.Response(status=202, headers={"Docker-Content-Digest": str(digest)})


async def start_upload(request: web.Request) -> web.Response:
    """POST: a mount (``mount``+``from``), a single-request upload (``digest``), or a new session."""
    refuse_writes_on_mirror(request, "pushing and deleting are disabled")
    repo = validate_repo(request.match_info["name"])
    blobs = request.app[BLOBS]
    mount = request.query.get("mount")
    if mount is not None:
        digest = Digest.parse_oci(mount)
        from_repo = request.query.get("from")
        source = validate_repo(from_repo) if from_repo else None
        auth = request.app[AUTH]
        # With auth on, a mount needs pull access to a named source: automatic discovery (no
        # ``from``) would let anyone who knows a digest link a blob from a repository they cannot read.
        allowed = auth is None or (source is not None and auth.may(request, source, "pull"))
        if allowed and await blobs.mount(repo, digest, source):
            return _blob_created(request, repo, digest)
    digest_text = request.query.get("digest")
    if digest_text is not None:  # single request: nothing of it is left behind when it fails
        digest = Digest.parse_oci(digest_text)
        request.app[METRICS].uploads_started.inc()
        await blobs.upload_whole(repo, digest, RequestBody(request, request.app[TRANSFER_THREADS]))
        return _blob_created(request, repo, digest)
    upload_id = await blobs.start_upload(repo)
    request.app[METRICS].uploads_started.inc()
    headers = blobs.range_headers(repo, upload_id, 0)
    headers["Location"] = _absolute(request, headers["Location"])
    headers["Docker-Upload-Location"] = headers["Location"]
    return web.Response(status=202, headers=headers)


def _blob_created(request: web.Request, repo: str, digest: Digest) -> web.Response:
    request.app[METRICS].uploads_completed.inc()
    headers = {
        "Location": _absolute(request, f"/v2/{repo}/blobs/{digest}"),
        "Docker-Content-Digest": str(digest),
    }
    return web.Response(status=201, headers=headers)


def _session(request: web.Request) -> tuple[str, str]:
    return validate_repo(request.match_info["name"]), validate_upload_id(request.match_info["upload_id"])


def _session_headers(request: web.Request, repo: str, upload_id: str, offset: int) -> dict[str, str]:
    headers = request.app[BLOBS].range_headers(repo, upload_id, offset)
    headers["Location"] = _absolute(request, headers["Location"])
    headers["Docker-Upload-Location"] = headers["Location"]
    return headers


async def upload_status(request: web.Request) -> web.Response:
    """GET the session: 204 with Location and ``Range: 0-<last byte>``."""
    repo, upload_id = _session(request)
    offset = await request.app[BLOBS].session_offset(repo, upload_id)
    return web.Response(status=204, headers=_session_headers(request, repo, upload_id, offset))


async def patch_upload(request: web.Request) -> web.Response:
    """PATCH a chunk (with Content-Range) or a stream (without): 202 with the new Range; 416 out of order."""
    refuse_writes_on_mirror(request, "pushing and deleting are disabled")
    repo, upload_id = _session(request)
    chunk = parse_chunk_range(request.headers.get("Content-Range"))
    body = RequestBody(request, request.app[TRANSFER_THREADS])
    offset = await request.app[BLOBS].write_chunk(repo, upload_id, chunk, body)
    return web.Response(status=202, headers=_session_headers(request, repo, upload_id, offset))


async def finish_upload(request: web.Request) -> web.Response:
    """PUT ``?digest=`` (optionally with a last chunk): verify, store, link; 201 with the blob Location."""
    refuse_writes_on_mirror(request, "pushing and deleting are disabled")
    repo, upload_id = _session(request)
    digest_text = request.query.get("digest")
    if digest_text is None:
        raise InvalidDigest("the closing PUT of an upload needs ?digest=")
    digest = Digest.parse_oci(digest_text)
    blobs = request.app[BLOBS]
    body = RequestBody(request, request.app[TRANSFER_THREADS])
    if has_body(request):
        chunk = parse_chunk_range(request.headers.get("Content-Range"))
        await blobs.write_chunk(repo, upload_id, chunk, body)
    await blobs.finish_upload(repo, upload_id, digest)
    return _blob_created(request, repo, digest)


async def cancel_upload(request: web.Request) -> web.Response:
    """DELETE the session: 204."""
    repo, upload_id = _session(request)
    await request.app[BLOBS].cancel_upload(repo, upload_id)
    return web.Response(status=204)
