"""Issue 12: a mirror whose upstream needs a password (``[mirror] username``/``password``, or the
upstream's entry in a docker ``config.json`` named by ``docker_config``): it pulls through with them,
through the same client (one token flow) as the CLI; without them the upstream's 401 is a 502."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import aiohttp
import bcrypt
import pytest

from registry.ociserver.settings import ServerSettings, load_config_file
from tests.support.registry_server import RunningRegistry, push_image, sha, start_registry

HASH = bcrypt.hashpw(b"secret", bcrypt.gensalt(4)).decode()


async def _locked_upstream(tmp_path: Path, scheme: str) -> RunningRegistry:
    path = tmp_path / "upstream.toml"
    path.write_text(f"""
[auth]
scheme = "{scheme}"
anonymous_pull = false
token_secret = "0123456789abcdef0123456789abcdef"
[[auth.users]]
name = "alice"
password_hash = "{HASH}"
""")
    upstream = await start_registry(
        load_config_file(path, ServerSettings(root=tmp_path / "up", port=0, tag_cache_seconds=0))
    )
    basic = {"Authorization": "Basic " + base64.b64encode(b"alice:secret").decode()}
    async with aiohttp.ClientSession(headers=basic) as alice:
        await push_image(alice, upstream.url, "library/tiny", "latest", b"{}", [b"private layer"])
    return upstream


async def _mirror(tmp_path: Path, upstream: RunningRegistry, mirror_table: str) -> RunningRegistry:
    path = tmp_path / "mirror.toml"
    path.write_text(f'[mirror]\nupstream = "{upstream.url}"\n{mirror_table}')
    return await start_registry(
        load_config_file(path, ServerSettings(root=tmp_path / "mirror", port=0, tag_cache_seconds=0))
    )


@pytest.mark.parametrize("scheme", ["bearer", "basic"])
@pytest.mark.parametrize("source", ["config", "docker_config", "none"])
async def test_a_mirror_pulls_through_an_upstream_that_needs_a_password(
    tmp_path: Path, scheme: str, source: str
) -> None:
    upstream = await _locked_upstream(tmp_path, scheme)
    table = ""
    if source == "config":
        table = 'username = "alice"\npassword = "secret"\n'
    elif source == "docker_config":
        host = upstream.url.removeprefix("http://")
        auth = base64.b64encode(b"alice:secret").decode()
        (tmp_path / "docker.json").write_text(json.dumps({"auths": {host: {"auth": auth}}}))
        table = f'docker_config = "{tmp_path / "docker.json"}"\n'
    mirror = await _mirror(tmp_path, upstream, table)
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{mirror.url}/v2/library/tiny/manifests/latest") as r:
                assert r.status == (502 if source == "none" else 200), await r.text()
            async with http.get(f"{mirror.url}/v2/library/tiny/blobs/{sha(b'private layer')}") as r:
                if source == "none":
                    assert r.status in (404, 502)
                else:
                    assert r.status == 200 and await r.read() == b"private layer"
    finally:
        await mirror.stop()
        await upstream.stop()


def test_credentials_without_an_upstream_or_half_given_are_refused(tmp_path: Path) -> None:
    from registry.errors import InvalidInput

    path = tmp_path / "mirror.toml"
    path.write_text('[mirror]\nupstream = "https://example.invalid"\nusername = "alice"\n')
    with pytest.raises(InvalidInput, match="password"):
        load_config_file(path, ServerSettings(root=tmp_path))
