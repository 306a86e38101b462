"""Issue 12: the registry's access log (``[server] access_log = PATH`` or ``--access-log PATH``, ``-``
for stderr): one line per request with time, client, user, method and path, status, bytes and
duration; never a secret (no Authorization header, no token, no password, no query string)."""

from __future__ import annotations

import base64
import re
from dataclasses import replace
from pathlib import Path

import aiohttp
import bcrypt

from registry.ociserver.settings import ServerSettings, load_config_file
from tests.support.registry_server import push_image, start_registry

HASH = bcrypt.hashpw(b"secret", bcrypt.gensalt(4)).decode()


async def test_one_line_per_request_with_the_user_and_no_secret(tmp_path: Path) -> None:
    config = tmp_path / "registry.toml"
    log = tmp_path / "access.log"
    config.write_text(f"""
[server]
access_log = "{log}"
[auth]
token_secret = "0123456789abcdef0123456789abcdef"
[[auth.users]]
name = "alice"
password_hash = "{HASH}"
""")
    settings = load_config_file(config, ServerSettings(root=tmp_path / "root", port=0, tag_cache_seconds=0))
    reg = await start_registry(settings)
    basic = {"Authorization": "Basic " + base64.b64encode(b"alice:secret").decode()}
    try:
        async with (
            aiohttp.ClientSession() as anonymous,
            anonymous.get(f"{reg.url}/v2/team/m/tags/list") as r,
        ):
            assert r.status == 401
        async with aiohttp.ClientSession(headers=basic) as alice:
            await push_image(alice, reg.url, "team/m", "v1", b"{}", [b"layer"])
            async with alice.get(f"{reg.url}/v2/token", params={"scope": "repository:team/m:pull"}) as r:
                token = (await r.json())["token"]
            async with alice.get(
                f"{reg.url}/v2/team/m/manifests/v1", headers={"Authorization": f"Bearer {token}"}
            ) as r:
                size = len(await r.read())
                assert r.status == 200
    finally:
        await reg.stop()
    lines = log.read_text().splitlines()
    assert any(re.search(r' - "GET /v2/team/m/tags/list" 401 ', line) for line in lines), lines
    manifest = [line for line in lines if '"GET /v2/team/m/manifests/v1"' in line]
    assert len(manifest) == 1 and re.search(rf' alice "GET [^"]+" 200 {size} \d+\.\dms$', manifest[0]), (
        manifest
    )
    assert any(' alice "PUT /v2/team/m/manifests/v1" 201 ' in line for line in lines), lines
    text = log.read_text()
    for secret in ("secret", token, basic["Authorization"].split()[1], "scope="):
        assert secret not in text


async def test_no_access_log_unless_asked(tmp_path: Path) -> None:
    settings = ServerSettings(root=tmp_path / "root", port=0, tag_cache_seconds=0)
    assert settings.access_log is None
    reg = await start_registry(replace(settings))
    await reg.stop()
