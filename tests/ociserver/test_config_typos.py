"""Issue 12: a typo in the registry config is an error naming its line and the nearest valid key,
never silently ignored (``anonymous_pul`` would leave a registry nobody can pull from anonymously;
``[storag]`` would put the data somewhere else). Checked in-process and through ``registry serve``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from registry.errors import InvalidInput
from registry.ociserver.settings import ServerSettings, load_config_file
from tests.support.checkout_env import ROOT

HASH = "$2b$04$" + "a" * 53


@pytest.mark.parametrize(
    ("text", "line", "suggestion"),
    [
        ("[auth]\ntoken_secret = 'x'\nanonymous_pul = true\n", 3, "anonymous_pull"),
        ("[server]\nlisten = '127.0.0.1:0'\n\n[storag]\nroot = '/x'\n", 4, "storage"),
        ("[gc]\ngrace = '1h'\nintervall = '2h'\n", 3, "interval"),
        ("[storage]\nbackend = 's3'\n[storage.s3]\nbucket = 'b'\nendpoint = 'http://x'\n", 5, "endpoint_url"),
        (f"[auth]\n[[auth.users]]\nname = 'a'\npasword_hash = '{HASH}'\n", 4, "password_hash"),
        ("[[auth.rules]]\nrepository = 'x/**'\naction = ['pull']\n", 3, "actions"),
        ("[mirror]\nupstream = 'https://x'\n[mirror.auth]\nuser = 'u'\n", 3, None),
        ("listen = '127.0.0.1:5000'\n", 1, None),
        ('[auth]\n"scheme " = "basic"\n', 2, "scheme"),
    ],
)
def test_unknown_keys_and_sections_name_the_line_and_the_nearest_key(
    tmp_path: Path, text: str, line: int, suggestion: str | None
) -> None:
    path = tmp_path / "registry.toml"
    path.write_text(text)
    with pytest.raises(InvalidInput) as info:
        load_config_file(path, ServerSettings(root=tmp_path))
    message = str(info.value)
    assert f"{path}:{line}:" in message, message
    assert "unknown" in message, message
    if suggestion is not None:
        assert f"did you mean {suggestion!r}" in message, message


def test_every_documented_key_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "registry.toml"
    path.write_text(f"""
[server]
listen = "127.0.0.1:0"
max_manifest_bytes = 4194304
max_upload_bytes = 1000000
allow_insecure_public = false
upload_max_age = "1h"
tag_cache = 0
[storage]
root = "{tmp_path / "root"}"
backend = "filesystem"
[gc]
interval = 0
grace = "1h"
[auth]
scheme = "bearer"
anonymous_pull = true
token_secret = "0123456789abcdef0123456789abcdef"
token_ttl = 300
realm = "r"
max_failed_logins = 10
failed_login_window = 60
password_threads = 2
[[auth.users]]
name = "alice"
password_hash = "{HASH}"
[[auth.tokens]]
name = "alice"
token = "0123456789abcdef0123"
[[auth.rules]]
repository = "team/**"
users = ["alice"]
actions = ["pull"]
""")
    settings = load_config_file(path, ServerSettings(root=tmp_path))
    assert settings.auth is not None and settings.auth.anonymous_pull


def test_registry_serve_refuses_a_config_typo_with_the_line(tmp_path: Path) -> None:
    path = tmp_path / "registry.toml"
    path.write_text("[auth]\ntoken_secret = '0123456789abcdef0123456789abcdef'\nanonymous_pul = true\n")
    out = subprocess.run(
        [sys.executable, "-m", "registry.cli.main", "registry", "serve", "--config", str(path),
         "--root", str(tmp_path / "root"), "--listen", "127.0.0.1:0"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert out.returncode != 0
    assert f"{path}:3:" in out.stderr and "did you mean 'anonymous_pull'" in out.stderr, out.stderr


def _startup_line(*args: str) -> str:
    proc = subprocess.Popen(
        [sys.executable, "-m", "registry.cli.main", "registry", "serve", "--listen", "127.0.0.1:0", *args],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if "listening on" in line:
                return line
        raise AssertionError("the registry did not start")
    finally:
        proc.kill()
        proc.wait(10)


def test_the_startup_line_says_what_is_on(tmp_path: Path) -> None:
    """Issue 12: auth scheme, anonymous pull, mirror upstream, storage backend and database."""
    line = _startup_line("--root", str(tmp_path / "open"))
    assert "auth off" in line and "storage filesystem" in line and "database sqlite" in line, line
    path = tmp_path / "registry.toml"
    path.write_text(f"""
[auth]
scheme = "basic"
anonymous_pull = true
[[auth.users]]
name = "alice"
password_hash = "{HASH}"
""")
    line = _startup_line("--root", str(tmp_path / "locked"), "--config", str(path))
    assert "auth basic" in line and "anonymous pull on" in line, line
    line = _startup_line("--root", str(tmp_path / "mirror"), "--upstream", "http://127.0.0.1:9")
    assert "mirror of http://127.0.0.1:9" in line, line
