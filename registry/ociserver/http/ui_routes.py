"""The web page's routes: ``/`` (to ``/ui/``), the HTML pages under ``/ui/`` and the same data as JSON
under ``/ui/api/`` (documented in docs/registry-server.md).

Who sees what: with no ``[auth]`` everyone sees everything. With auth, a page shows only the
repositories its caller may pull; the caller is the user of the session cookie (set by the sign-in
form), else the ``Authorization`` header (for scripts calling ``/ui/api/``), else anonymous. With
anonymous pulls off, an anonymous page view goes to the sign-in form (the API answers 401).

The session cookie is ``HttpOnly; SameSite=Strict`` (``Secure`` over https) and holds only a signed
user name; sign-in and sign-out refuse a foreign ``Origin``. Every page is read-only, so no other
request needs a CSRF token. Passwords are never logged, echoed or stored in a page.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from registry.errors import InvalidInput, NameUnknown, NotFound, RateLimited, Unauthorized
from registry.oci.name import validate_repo
from registry.ociserver.auth.access_model import ANONYMOUS
from registry.ociserver.auth.authenticator import Authenticator, Identity
from registry.ociserver.http.keys import AUTH, BROWSER, PAGES, SESSIONS
from registry.ociserver.web.browse import PER_PAGE, Visible
from registry.ociserver.web.sessions import COOKIE

__all__ = ["add_routes"]

#: Every page: only our own script and stylesheet, never framed, no referrer to other sites.
_PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
#: Largest sign-in form body read.
_MAX_FORM = 8 << 10


def add_routes(app: web.Application) -> None:
    """Register ``/``, the pages under ``/ui/``, ``/ui/api/`` and ``/ui/static/``."""
    r = app.router
    r.add_get("/", root)
    r.add_get("/ui", root)
    r.add_get("/ui/", models_page)
    r.add_get("/ui/models/{name:.+}", model_page)
    r.add_get("/ui/mirror", mirror_page)
    r.add_get("/ui/login", login_form)
    r.add_post("/ui/login", login)
    r.add_post("/ui/logout", logout)
    r.add_get("/ui/api/models", models_api)
    r.add_get("/ui/api/models/{name:.+}", model_api)
    r.add_get("/ui/api/mirror", mirror_api)
    r.add_get("/ui/static/{file}", static_file)


async def static_file(request: web.Request) -> web.Response:
    """GET /ui/static/FILE: the stylesheet, the script or the icon (from memory; nothing else)."""
    found = request.app[PAGES].static(request.match_info["file"])
    if found is None:
        raise web.HTTPNotFound()
    content_type, body = found
    headers = {"Cache-Control": "public, max-age=300", "X-Content-Type-Options": "nosniff"}
    return web.Response(body=body, content_type=content_type, headers=headers)


async def root(request: web.Request) -> web.Response:
    """``/`` and ``/ui``: to the model list (keeping the query)."""
    target = "/ui/" + (f"?{request.query_string}" if request.query_string else "")
    raise web.HTTPFound(target)


# -- who is asking -------------------------------------------------------------------------------


async def _caller(request: web.Request, *, api: bool) -> tuple[Identity | None, Visible]:
    """The caller (None without auth) and which repositories it may see.

    Raises:
        web.HTTPFound: a page view that must sign in first.
        Unauthorized: an API call that must authenticate (or sent wrong credentials).
        RateLimited: too many failed logins.
    """
    auth = request.app[AUTH]
    if auth is None:
        return None, _everything
    identity = await _identify(request, auth)
    if identity.name == ANONYMOUS and not auth.config.anonymous_pull:
        if api:
            err = Unauthorized("authentication required")
            err.headers = auth.challenge(request, None, "pull")  # type: ignore[attr-defined]
            raise err
        raise web.HTTPFound("/ui/login?" + urlencode({"next": request.path_qs}))
    return identity, auth.may_pull(identity)


async def _identify(request: web.Request, auth: Authenticator) -> Identity:
    sessions = request.app[SESSIONS]
    value = request.cookies.get(COOKIE)
    if value and sessions is not None:
        user = sessions.user(value)
        known = user in auth.config.users or user in auth.config.tokens.values()
        if user is not None and known:  # (a user removed from the config is signed out)
            return Identity(user)
    if "Authorization" in request.headers:
        return await auth.identify(request)
    return Identity(ANONYMOUS)


def _everything(_repo: str) -> bool:
    return True


# -- pages ---------------------------------------------------------------------------------------


def _page(
    request: web.Request, template: str, identity: Identity | None, status: int = 200, **context: Any
) -> web.Response:
    user = None if identity is None or identity.name == ANONYMOUS else identity.name
    html = request.app[PAGES].render(
        template,
        user=user,
        auth_on=request.app[AUTH] is not None,
        mirror=request.app[BROWSER].upstream is not None,
        host=request.host,
        **context,
    )
    return web.Response(text=html, status=status, content_type="text/html", headers=_PAGE_HEADERS)


def _not_found(request: web.Request, identity: Identity | None, message: str) -> web.Response:
    return _page(request, "error.html", identity, 404, title="Not found", message=message)


async def models_page(request: web.Request) -> web.Response:
    """GET /ui/: the model list (``q`` filters by name, ``page`` pages)."""
    identity, visible = await _caller(request, api=False)
    q, page, per_page = _list_params(request)
    listing = await request.app[BROWSER].models(visible, q, page, per_page)
    return _page(request, "models.html", identity, listing=listing)


async def model_page(request: web.Request) -> web.Response:
    """GET /ui/models/NAME: tags, facts, text layers and the pull command (``tag`` picks the tag)."""
    identity, visible = await _caller(request, api=False)
    name = request.match_info["name"]
    try:
        validate_repo(name)
    except InvalidInput:
        return _not_found(request, identity, "There is no model by that name.")
    tag = request.query.get("tag")
    detail = await request.app[BROWSER].model(name, visible, tag)
    if detail is None:
        return _not_found(request, identity, "There is no model by that name, or you may not pull it.")
    if detail.selected is None and tag is not None:
        return _not_found(request, identity, "This model has no such tag.")
    command = _pull_command(request, name, detail.selected.tag) if detail.selected else ""
    return _page(request, "model.html", identity, model=detail, pull_command=command)


async def mirror_page(request: web.Request) -> web.Response:
    """GET /ui/mirror: cached models, each tag's cached bytes and last refresh (404 if not a mirror)."""
    identity, visible = await _caller(request, api=False)
    browser = request.app[BROWSER]
    if browser.upstream is None:
        return _not_found(request, identity, "This registry is not a mirror.")
    q, page, per_page = _list_params(request)
    view = await browser.mirror(visible, q, page, per_page)
    return _page(request, "mirror.html", identity, view=view)


def _pull_command(request: web.Request, name: str, tag: str) -> str:
    """``ollama-py pull [--insecure] HOST/NAME:TAG`` for this registry as the browser reached it."""
    https = request.scheme == "https" or request.headers.get("X-Forwarded-Proto", "").lower() == "https"
    flag = "" if https else "--insecure "
    return f"ollama-py pull {flag}{request.host}/{name}:{tag}"


# -- sign-in -------------------------------------------------------------------------------------


async def login_form(request: web.Request) -> web.Response:
    """GET /ui/login: the sign-in form (404 without auth)."""
    if request.app[AUTH] is None:
        return _not_found(request, None, "This registry has no sign-in: everyone may browse it.")
    return _page(request, "login.html", None, message="", username="", next=_next(request.query.get("next")))


async def login(request: web.Request) -> web.Response:
    """POST /ui/login: check the user name and password; on success set the session cookie and go
    to ``next``. Wrong credentials: the form again with 401; too many failures: 429."""
    auth, sessions = request.app[AUTH], request.app[SESSIONS]
    if auth is None or sessions is None:
        return _not_found(request, None, "This registry has no sign-in.")
    _same_origin(request)
    if (request.content_length or 0) > _MAX_FORM:
        raise InvalidInput("sign-in form too large")
    form = await request.post()
    username, password = str(form.get("username", "")), str(form.get("password", ""))
    target = _next(str(form.get("next", "")))
    try:
        user = await auth.login(username, password, request.remote)
    except Unauthorized:
        return _page(
            request,
            "login.html",
            None,
            401,
            message="Wrong user name or password.",
            username=username,
            next=target,
        )
    except RateLimited as err:
        response = _page(
            request,
            "login.html",
            None,
            429,
            message=f"Too many failed sign-ins: {err}",
            username=username,
            next=target,
        )
        response.headers["Retry-After"] = str(getattr(err, "retry_after", 60))
        return response
    response = _see_other(target)
    response.set_cookie(
        COOKIE,
        sessions.issue(user),
        max_age=int(sessions.ttl),
        path="/",
        httponly=True,
        samesite="Strict",
        secure=request.secure,
    )
    return response


async def logout(request: web.Request) -> web.Response:
    """POST /ui/logout: drop the session cookie and go to the model list."""
    _same_origin(request)
    response = _see_other("/ui/")
    response.del_cookie(COOKIE, path="/")
    return response


def _see_other(target: str) -> web.Response:
    return web.Response(status=303, headers={"Location": target, "Cache-Control": "no-store"})


def _same_origin(request: web.Request) -> None:
    """Refuse a form posted from another site (a browser sends ``Origin`` with every POST)."""
    origin = request.headers.get("Origin")
    if origin is not None and origin != f"{request.scheme}://{request.host}":
        forwarded = request.headers.get("X-Forwarded-Proto")
        if forwarded is None or origin != f"{forwarded}://{request.host}":
            raise web.HTTPForbidden(text="cross-site form refused")


def _next(value: str | None) -> str:
    """Where to go after signing in: a path on this site under /ui/, else the model list."""
    if value and value.startswith("/ui/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/ui/"


# -- JSON ----------------------------------------------------------------------------------------


async def models_api(request: web.Request) -> web.Response:
    """GET /ui/api/models?q=&page=&per_page=: the list page's data."""
    _identity, visible = await _caller(request, api=True)
    q, page, per_page = _list_params(request)
    listing = await request.app[BROWSER].models(visible, q, page, per_page)
    return web.json_response(listing.to_json())


async def model_api(request: web.Request) -> web.Response:
    """GET /ui/api/models/NAME?tag=: the model page's data (404 NAME_UNKNOWN when hidden or absent)."""
    _identity, visible = await _caller(request, api=True)
    name = validate_repo(request.match_info["name"])
    tag = request.query.get("tag")
    detail = await request.app[BROWSER].model(name, visible, tag)
    if detail is None:
        raise NameUnknown("repository name not known to registry", detail={"name": name})
    if detail.selected is None and tag is not None:
        raise NotFound("no such tag", detail={"tag": tag})
    out = detail.to_json()
    out["pull_command"] = _pull_command(request, name, detail.selected.tag) if detail.selected else None
    return web.json_response(out)


async def mirror_api(request: web.Request) -> web.Response:
    """GET /ui/api/mirror?q=&page=&per_page=: the mirror view's data (404 when not a mirror)."""
    _identity, visible = await _caller(request, api=True)
    browser = request.app[BROWSER]
    if browser.upstream is None:
        raise NotFound("this registry is not a mirror")
    q, page, per_page = _list_params(request)
    view = await browser.mirror(visible, q, page, per_page)
    return web.json_response(view.to_json())


def _list_params(request: web.Request) -> tuple[str, int, int]:
    """``q``, ``page`` and ``per_page`` of a list request. Raises InvalidInput for non-numbers."""
    try:
        page = int(request.query.get("page", "1"))
        per_page = int(request.query.get("per_page", str(PER_PAGE)))
    except ValueError as err:
        raise InvalidInput("page and per_page must be whole numbers") from err
    return request.query.get("q", ""), page, per_page
