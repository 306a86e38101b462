"""Routes for manifests, tags, referrers and the catalog (spec end-1, end-3, end-7, end-8, end-9, end-12)."""

from __future__ import annotations

import json

from aiohttp import web

from registry.errors import InvalidInput, InvalidTag, ModelNotFound
from registry.oci import mediatypes
from registry.oci.digest import Digest
from registry.oci.name import parse_reference, validate_repo, validate_tag
from registry.ociserver.auth.authenticator import IDENTITY
from registry.ociserver.http.bodies import page, read_limited
from registry.ociserver.http.keys import AUTH, MANIFESTS, SETTINGS
from registry.ociserver.http.write_guard import refuse_writes_on_mirror

__all__ = ["add_routes"]

_NAME = "{name:.+}"
_MAX_TAG_PARAMS = 100


def add_routes(app: web.Application) -> None:
    """Register the manifest and discovery routes."""
    r = app.router
    r.add_get("/v2/", ping)
    r.add_get("/v2/_catalog", catalog)
    r.add_get(f"/v2/{_NAME}/tags/list", tags_list)
    r.add_get(f"/v2/{_NAME}/referrers/{{digest}}", referrers)
    r.add_get(f"/v2/{_NAME}/manifests/{{reference}}", get_manifest)
    r.add_put(f"/v2/{_NAME}/manifests/{{reference}}", put_manifest)
    r.add_delete(f"/v2/{_NAME}/manifests/{{reference}}", delete_manifest)


async def ping(request: web.Request) -> web.Response:
    """GET /v2/: 200 ``{}`` means "speaks the distribution API"."""
    return web.json_response({}, headers={"Docker-Distribution-API-Version": "registry/2.0"})


async def catalog(request: web.Request) -> web.Response:
    """GET /v2/_catalog: repositories, sorted, with ``n``/``last``/``Link``."""
    repos = await request.app[MANIFESTS].repositories()
    auth = request.app[AUTH]
    if auth is not None:  # list only what the caller may pull
        identity = request.get(IDENTITY)
        if identity is None:
            repos = []
        else:
            may_pull = auth.may_pull(identity)
            repos = [r for r in repos if may_pull(r)]
    repos, link = page(request, repos)
    headers = {"Link": link} if link else None
    return web.json_response({"repositories": repos}, headers=headers)


async def tags_list(request: web.Request) -> web.Response:
    """GET tags/list: sorted tags with ``n``/``last``/``Link``; 404 NAME_UNKNOWN for unknown repos."""
    repo = validate_repo(request.match_info["name"])  # (a mirror lists what it has cached)
    tags, link = page(request, await request.app[MANIFESTS].tags(repo))
    headers = {"Link": link} if link else None
    return web.json_response({"name": repo, "tags": tags}, headers=headers)


async def referrers(request: web.Request) -> web.Response:
    """GET referrers/<digest>: an image index of manifests whose subject is the digest (never 404)."""
    repo = validate_repo(request.match_info["name"])
    digest = Digest.parse_oci(request.match_info["digest"])
    artifact_type = request.query.get("artifactType")
    index = await request.app[MANIFESTS].referrers(repo, digest, artifact_type)
    headers = {"OCI-Filters-Applied": "artifactType"} if artifact_type is not None else {}
    return web.Response(
        body=json.dumps(index).encode(),
        content_type=mediatypes.OCI_INDEX,
        headers=headers,
    )


async def get_manifest(request: web.Request) -> web.Response:
    """GET/HEAD a manifest by tag or digest: exact bytes, stored Content-Type, Docker-Content-Digest.

    A malformed tag is 404 MANIFEST_UNKNOWN here (the spec's table allows only 404 for end-3);
    a malformed digest stays 400 DIGEST_INVALID, and PUT keeps 400 TAG_INVALID."""
    repo = validate_repo(request.match_info["name"])
    try:
        reference = parse_reference(request.match_info["reference"])
    except InvalidTag as err:
        raise ModelNotFound("manifest unknown", detail={"reference": "malformed tag"}) from err
    manifest = await request.app[MANIFESTS].get(repo, reference)
    headers = {"Docker-Content-Digest": str(manifest.digest), "Etag": f'"{manifest.digest}"'}
    if request.method == "HEAD":
        response = web.Response(status=200, headers=headers)
        response.headers["Content-Type"] = manifest.media_type
        response.headers["Content-Length"] = str(len(manifest.content))
        return response
    response = web.Response(body=manifest.content, headers=headers)
    response.headers["Content-Type"] = manifest.media_type
    return response


async def put_manifest(request: web.Request) -> web.Response:
    """PUT a manifest by tag or digest (``?tag=`` adds tags): 201, Location, Docker-Content-Digest."""
    refuse_writes_on_mirror(request, "pushing is disabled")
    repo = validate_repo(request.match_info["name"])
    reference = parse_reference(request.match_info["reference"])
    extra_tags = request.query.getall("tag", [])
    if len(extra_tags) > _MAX_TAG_PARAMS:
        raise InvalidInput(f"at most {_MAX_TAG_PARAMS} tag parameters are accepted")
    for tag in extra_tags:
        validate_tag(tag)
    content = await read_limited(request, request.app[SETTINGS].max_manifest_bytes)
    content_type = request.headers.get("Content-Type", "").split(";", 1)[0].strip() or None
    record = await request.app[MANIFESTS].put(repo, reference, content, content_type, extra_tags)
    headers = {
        "Location": f"{request.scheme}://{request.host}/v2/{repo}/manifests/{record.digest}",
        "Docker-Content-Digest": str(record.digest),
    }
    response = web.Response(status=201, headers=headers)
    for tag in dict.fromkeys(extra_tags):
        response.headers.add("OCI-Tag", tag)
    if record.subject is not None:
        response.headers["OCI-Subject"] = str(record.subject)
    return response


async def delete_manifest(request: web.Request) -> web.Response:
    """DELETE a tag (202) or a manifest by digest with all its tags (202)."""
    refuse_writes_on_mirror(request, "deleting is disabled")
    repo = validate_repo(request.match_info["name"])
    reference = parse_reference(request.match_info["reference"])
    await request.app[MANIFESTS].delete(repo, reference)
    return web.Response(status=202)
