"""Auth (Basic, static and signed Bearer tokens, rules, anonymous pull), online GC, fuzzed requests."""

from __future__ import annotations

import asyncio
import base64
import os
import time
from pathlib import Path
from typing import Any

import aiohttp
import bcrypt
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from registry.errors import InvalidInput
from registry.ociserver.gc import collect_garbage
from registry.ociserver.http.keys import STORE
from registry.ociserver.settings import ServerSettings, load_config_file
from tests.support.registry_server import (
    RunningRegistry,
    image_manifest,
    push_blob,
    push_image,
    sha,
    start_registry,
)

Http = aiohttp.ClientSession
HASH = bcrypt.hashpw(b"secret", bcrypt.gensalt(4)).decode()


def _auth_config(tmp_path: Path, extra: str = "") -> ServerSettings:
    path = tmp_path / "auth.toml"
    path.write_text(f"""
[auth]
token_secret = "0123456789abcdef0123456789abcdef"
anonymous_pull = false
[[auth.users]]
name = "alice"
password_hash = "{HASH}"
[[auth.users]]
name = "bob"
password_hash = "{HASH}"
[[auth.tokens]]
name = "ci"
token = "static-token-0123456789"
[[auth.rules]]
repository = "team/**"
users = ["alice", "ci"]
actions = ["pull", "push", "delete"]
[[auth.rules]]
repository = "team/**"
users = ["bob"]
actions = ["pull"]
{extra}
""")
    return load_config_file(path, ServerSettings(root=tmp_path / "root", port=0, tag_cache_seconds=0))


def _basic(user: str, password: str = "secret") -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


async def test_auth_basic_bearer_rules(tmp_path: Path, http: Http) -> None:
    reg = await start_registry(_auth_config(tmp_path))
    try:
        async with http.get(f"{reg.url}/v2/") as r:
            assert r.status == 401
            assert r.headers["WWW-Authenticate"].startswith('Bearer realm="http://127.0.0.1')
        async with http.post(f"{reg.url}/v2/team/m/blobs/uploads/") as r:
            assert r.status == 401 and 'scope="repository:team/m:pull,push"' in r.headers["WWW-Authenticate"]
        async with http.post(f"{reg.url}/v2/team/m/blobs/uploads/", headers=_basic("alice", "wrong")) as r:
            assert r.status == 401
        async with http.post(f"{reg.url}/v2/team/m/blobs/uploads/", headers=_basic("bob")) as r:
            assert r.status == 403 and (await r.json())["errors"][0]["code"] == "DENIED"
        async with http.post(f"{reg.url}/v2/team/m/blobs/uploads/", headers=_basic("alice")) as r:
            assert r.status == 202
        async with http.post(
            f"{reg.url}/v2/team/m/blobs/uploads/", headers={"Authorization": "Bearer static-token-0123456789"}
        ) as r:
            assert r.status == 202
        async with http.get(
            f"{reg.url}/v2/token", params={"scope": "repository:team/m:pull,push"}, headers=_basic("bob")
        ) as r:
            token = (await r.json())["token"]
        bearer = {"Authorization": f"Bearer {token}"}
        async with http.get(f"{reg.url}/v2/team/m/tags/list", headers=bearer) as r:
            assert r.status == 404  # allowed to pull; the repo just has no tags
        async with http.post(f"{reg.url}/v2/team/m/blobs/uploads/", headers=bearer) as r:
            assert r.status == 403  # bob's token was narrowed to pull
        async with http.get(f"{reg.url}/v2/team/other/tags/list", headers=bearer) as r:
            assert r.status == 401  # token scoped to team/m only (bob may pull it: ask for a token)
            assert 'scope="repository:team/other:pull"' in r.headers["WWW-Authenticate"]
        async with http.get(
            f"{reg.url}/v2/team/m/tags/list", headers={"Authorization": f"Bearer {token}x"}
        ) as r:
            assert r.status == 401
    finally:
        await reg.stop()


async def test_anonymous_pull(tmp_path: Path, http: Http) -> None:
    reg = await start_registry(_anon(tmp_path))
    try:
        async with http.get(f"{reg.url}/v2/team/m/tags/list") as r:
            assert r.status == 404
        async with http.post(f"{reg.url}/v2/team/m/blobs/uploads/") as r:
            assert r.status == 401
    finally:
        await reg.stop()


def _anon(tmp_path: Path) -> ServerSettings:
    from dataclasses import replace

    settings = _auth_config(tmp_path)
    assert settings.auth is not None
    return replace(settings, auth=replace(settings.auth, anonymous_pull=True))


def test_refuses_public_listen_without_auth(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="without authentication"):
        ServerSettings(root=tmp_path, host="0.0.0.0").check_exposure()
    ServerSettings(root=tmp_path, host="0.0.0.0", allow_insecure_public=True).check_exposure()
    ServerSettings(root=tmp_path, host="::1").check_exposure()
    _auth_config(tmp_path).check_exposure()


def test_bad_config_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[auth]\n[[auth.users]]\nname = 'x'\npassword_hash = 'plain'\n")
    with pytest.raises(InvalidInput, match="bcrypt or argon2"):
        load_config_file(path, ServerSettings(root=tmp_path))
    path.write_text("[gc]\ninterval = 'soon'\n")
    with pytest.raises(InvalidInput, match=r"gc\.interval"):
        load_config_file(path, ServerSettings(root=tmp_path))


async def test_gc_sweeps_unreferenced_after_grace_keeps_referenced(
    registry: RunningRegistry, http: Http
) -> None:
    store = registry.app[STORE]
    _, _ = await push_image(http, registry.url, "g/r", "v1", b"{}", [b"kept"])
    orphan = await push_blob(http, registry.url, "g/r", b"orphan")
    dry = await collect_garbage(store, grace=0, upload_max_age=3600, dry_run=True, now=time.time() + 1)
    assert [str(d) for d in dry.blobs] == [orphan]
    fresh = await collect_garbage(store, grace=3600, upload_max_age=3600)
    assert fresh.blobs == []
    report = await collect_garbage(store, grace=0, upload_max_age=3600, now=time.time() + 1)
    assert [str(d) for d in report.blobs] == [orphan] and report.bytes_freed == len(b"orphan")
    async with http.get(f"{registry.url}/v2/g/r/blobs/{orphan}") as r:
        assert r.status == 404
    async with http.get(f"{registry.url}/v2/g/r/blobs/{sha(b'kept')}") as r:
        assert await r.read() == b"kept"


async def test_gc_racing_pushes_loses_nothing(registry: RunningRegistry, http: Http) -> None:
    store = registry.app[STORE]

    async def pusher(i: int) -> None:
        layer = os.urandom(20_000) + bytes([i])
        _digest, _ = await push_image(http, registry.url, f"race/r{i}", "v1", b"{}", [layer])
        async with http.get(f"{registry.url}/v2/race/r{i}/blobs/{sha(layer)}") as r:
            assert r.status == 200

    async def collector() -> None:
        for _ in range(20):
            await collect_garbage(store, grace=5.0, upload_max_age=3600)
            await asyncio.sleep(0)

    await asyncio.gather(collector(), *(pusher(i) for i in range(12)))
    report = await collect_garbage(store, grace=0, upload_max_age=3600, now=time.time() + 1)
    assert report.blobs == []  # everything pushed is referenced
    for i in range(12):
        async with http.get(f"{registry.url}/v2/race/r{i}/manifests/v1") as r:
            assert r.status == 200


async def test_gc_purges_stale_uploads(registry: RunningRegistry, http: Http) -> None:
    async with http.post(f"{registry.url}/v2/g/r/blobs/uploads/") as r:
        location = r.headers["Location"]
    report = await collect_garbage(registry.app[STORE], grace=0, upload_max_age=10, now=time.time() + 60)
    assert report.uploads_purged == 1
    async with http.get(location) as r:
        assert r.status == 404


_segments = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=30)
_methods = st.sampled_from(["GET", "HEAD", "PUT", "POST", "PATCH", "DELETE"])


@hsettings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    method=_methods,
    parts=st.lists(
        st.one_of(
            _segments,
            st.sampled_from(
                [
                    "v2",
                    "blobs",
                    "uploads",
                    "manifests",
                    "tags",
                    "list",
                    "referrers",
                    "a",
                    "sha256:" + "0" * 64,
                    "..",
                    "_catalog",
                ]
            ),
        ),
        min_size=1,
        max_size=6,
    ),
    headers=st.dictionaries(
        st.sampled_from(["Content-Range", "Range", "Content-Type", "Authorization", "Accept"]),
        st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=40),
        max_size=3,
    ),
    body=st.binary(max_size=200),
    query=st.dictionaries(
        st.sampled_from(["digest", "n", "last", "mount", "from", "tag"]), st.text(max_size=20), max_size=3
    ),
)
def test_fuzzed_requests_never_500(
    fuzz_registry: tuple[asyncio.AbstractEventLoop, RunningRegistry, Any],
    method: str,
    parts: list[str],
    headers: dict[str, str],
    body: bytes,
    query: dict[str, str],
) -> None:
    loop, reg, session = fuzz_registry
    from urllib.parse import quote

    path = "/" + "/".join(quote(p, safe=":") for p in parts)

    async def go() -> int:
        async with session.request(method, reg.url + path, headers=headers, data=body, params=query) as r:
            await r.read()
            return r.status

    status = loop.run_until_complete(go())
    assert status < 500, (method, path, headers, query)


@pytest.fixture(scope="module")
def fuzz_registry(tmp_path_factory: pytest.TempPathFactory) -> Any:
    loop = asyncio.new_event_loop()
    settings = ServerSettings(root=tmp_path_factory.mktemp("fuzz"), port=0, tag_cache_seconds=0)
    reg = loop.run_until_complete(start_registry(settings))

    async def seed() -> aiohttp.ClientSession:
        session = aiohttp.ClientSession()
        await push_image(session, reg.url, "a", "v1", b"{}", [b"x"])
        return session

    session = loop.run_until_complete(seed())
    yield loop, reg, session
    loop.run_until_complete(session.close())
    loop.run_until_complete(reg.stop())
    loop.close()


async def test_catalog_filtered_and_mounts_need_read_access(tmp_path: Path) -> None:
    extra = f"""
[[auth.users]]
name = "carol"
password_hash = "{HASH}"
[[auth.rules]]
repository = "private/**"
users = ["carol"]
actions = ["pull", "push"]
"""
    reg = await start_registry(_auth_config(tmp_path, extra))
    try:
        async with (
            aiohttp.ClientSession(headers=_basic("alice")) as alice,
            aiohttp.ClientSession(headers=_basic("carol")) as carol,
            aiohttp.ClientSession(headers=_basic("bob")) as bob,
        ):
            await push_image(alice, reg.url, "team/m", "v1", b"{}", [b"team layer"])
            await push_image(carol, reg.url, "private/x", "v1", b"{}", [b"secret layer"])
            async with bob.get(f"{reg.url}/v2/_catalog") as r:
                assert (await r.json())["repositories"] == ["team/m"]
            secret = sha(b"secret layer")
            url = f"{reg.url}/v2/team/m/blobs/uploads/"
            async with alice.post(url, params={"mount": secret}) as r:
                assert r.status == 202  # no automatic discovery with auth on
            async with alice.post(url, params={"mount": secret, "from": "private/x"}) as r:
                assert r.status == 202  # alice cannot read private/x
            async with alice.post(
                f"{reg.url}/v2/team/n/blobs/uploads/", params={"mount": sha(b"team layer"), "from": "team/m"}
            ) as r:
                assert r.status == 201
    finally:
        await reg.stop()


async def test_gc_without_grace_never_lets_a_manifest_reference_a_swept_blob(
    registry: RunningRegistry, http: Http
) -> None:
    """Even with grace 0 (so fresh blobs ARE swept), a manifest is accepted only if its blobs exist."""
    store = registry.app[STORE]
    accepted = rejected = 0
    for i in range(15):
        config, layer = b"{}", os.urandom(5000) + bytes([i])
        for blob in (config, layer):
            await push_blob(http, registry.url, "race/zero", blob)
        body = image_manifest(config, [layer])
        gc = asyncio.create_task(collect_garbage(store, grace=0, upload_max_age=3600, now=time.time() + 1))
        async with http.put(
            f"{registry.url}/v2/race/zero/manifests/t{i}",
            data=body,
            headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"},
        ) as r:
            status = r.status
        await gc
        if status == 201:
            accepted += 1
            for blob in (config, layer):
                async with http.get(f"{registry.url}/v2/race/zero/blobs/{sha(blob)}") as g:
                    assert g.status == 200 and await g.read() == blob
        else:
            assert status == 400
            rejected += 1
    assert accepted + rejected == 15
