"""The web page in a real browser: headless Chromium (Debian's ``chromium`` + ``chromium-driver``,
driven by selenium) against a real ``ollama-py registry serve`` subprocess with auth on and anonymous
pulls off. Signs in, loads the list, searches, opens a model, copies the pull command, signs out;
takes screenshots at desktop and phone widths (saved under ``$OLLAMA_PY_TEST_ARTIFACTS``, default
``test-artifacts/`` in the checkout, ignored by git); and fails on any browser console error.
"""

from __future__ import annotations

import asyncio
import base64
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import bcrypt
import pytest

from tests.support.checkout_env import ROOT
from tests.support.registry_process import RegistryProcess
from tests.support.registry_server import push_ollama_model

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        shutil.which("chromium") is None or shutil.which("chromedriver") is None,
        reason="needs Debian's chromium and chromium-driver (scripts/setup.sh installs them)",
    ),
]

PASSWORD = "browser test password"
EVIL_TEMPLATE = "<script>alert('pwned')</script>{{ .Prompt }}"
DESKTOP, PHONE = (1280, 900), (390, 844)


def _config(tmp_path: Path) -> Path:
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(4)).decode()
    path = tmp_path / "registry.toml"
    path.write_text(
        f"""
[auth]
token_secret = "browser-test-secret-0123456789abcdef"
anonymous_pull = false
[[auth.users]]
name = "alice"
password_hash = "{hashed}"
[[auth.users]]
name = "admin"
password_hash = "{hashed}"
[[auth.rules]]
repository = "**"
users = ["admin"]
actions = ["pull", "push", "delete"]
[[auth.rules]]
repository = "library/*"
users = ["alice"]
actions = ["pull"]
[[auth.rules]]
repository = "team/*"
users = ["alice"]
actions = ["pull"]
"""
    )
    return path


async def _fill(url: str, weights: bytes) -> None:
    auth = "Basic " + base64.b64encode(f"admin:{PASSWORD}".encode()).decode()
    async with aiohttp.ClientSession(headers={"Authorization": auth}) as http:
        for tag in ("latest", "q8"):
            await push_ollama_model(
                http,
                url,
                "library/tiny",
                tag,
                weights=weights,
                template=EVIL_TEMPLATE,
                system="You are a tiny model.",
                params={"temperature": 0.2},
                licenses=("MIT License",),
            )
        for repo in ("team/alpha", "team/beta", "secret/hidden"):
            await push_ollama_model(http, url, repo, "v1", weights=repo.encode())


@pytest.fixture
def artifacts(request: pytest.FixtureRequest) -> Path:
    base = Path(os.environ.get("OLLAMA_PY_TEST_ARTIFACTS", ROOT / "test-artifacts"))
    out = base / "ui" / request.node.name
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    return out


@pytest.fixture
def registry_process(tmp_path: Path, tiny_gguf: Path) -> Iterator[RegistryProcess]:
    process = RegistryProcess("--root", str(tmp_path / "root"), "--config", str(_config(tmp_path)))
    try:
        asyncio.run(_fill(process.url, tiny_gguf.read_bytes()))
        yield process
    finally:
        process.stop()


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "chromium"
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-default-apps",
        "--disable-sync",
        "--disable-extensions",
        "--no-pings",
        # Nothing leaves loopback: every other name fails to resolve.
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
        f"--window-size={DESKTOP[0]},{DESKTOP[1]}",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(
        options=options, service=Service(shutil.which("chromedriver") or "chromedriver")
    )
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def _console_errors(driver: Any) -> list[str]:
    return [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def _shoot(driver: Any, artifacts: Path, name: str, size: tuple[int, int]) -> None:
    driver.set_window_size(*size)
    overflow = driver.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"{name}: the page is {overflow}px wider than a {size[0]}px window"
    assert driver.save_screenshot(str(artifacts / f"{name}-{size[0]}x{size[1]}.png"))


def test_sign_in_browse_search_copy_and_sign_out(
    registry_process: RegistryProcess, browser: Any, artifacts: Path
) -> None:
    from selenium.common.exceptions import NoAlertPresentException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    base = registry_process.url
    wait = WebDriverWait(browser, 15)
    browser.get(base + "/")
    wait.until(ec.presence_of_element_located((By.ID, "login")))
    _shoot(browser, artifacts, "login", PHONE)
    browser.set_window_size(*DESKTOP)

    # Sign in: back to the list, which shows only what alice may pull.
    browser.find_element(By.ID, "username").send_keys("alice")
    browser.find_element(By.ID, "password").send_keys(PASSWORD)
    browser.find_element(By.ID, "login-submit").click()
    wait.until(ec.presence_of_element_located((By.ID, "models")))
    assert browser.find_element(By.ID, "who").text == "alice"
    names = [a.text for a in browser.find_elements(By.CSS_SELECTOR, "#models a.model-link")]
    assert names == ["library/tiny", "team/alpha", "team/beta"]
    cookie = browser.get_cookie("ollama_py_session")
    assert cookie is not None and cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert browser.execute_script("return document.cookie") == ""  # HttpOnly: no script sees it
    _shoot(browser, artifacts, "list", DESKTOP)
    _shoot(browser, artifacts, "list", PHONE)
    browser.set_window_size(*DESKTOP)

    # Search ("/" jumps to the box).
    browser.find_element(By.TAG_NAME, "body").send_keys("/")
    search = browser.switch_to.active_element
    assert search.get_attribute("id") == "search"
    search.send_keys("alpha", Keys.ENTER)
    wait.until(ec.url_contains("q=alpha"))
    names = [a.text for a in browser.find_elements(By.CSS_SELECTOR, "#models a.model-link")]
    assert names == ["team/alpha"]

    # Open a model: facts, escaped template, tags.
    browser.get(base + "/ui/")
    browser.find_element(By.LINK_TEXT, "library/tiny").click()
    wait.until(ec.presence_of_element_located((By.ID, "model-name")))
    assert browser.find_element(By.ID, "model-name").text == "library/tiny"
    assert browser.find_element(By.ID, "fact-architecture").text == "llama"
    assert browser.find_element(By.ID, "fact-context").text == "256"
    template = browser.find_element(By.CSS_SELECTOR, 'pre[data-kind="template"]').text
    assert template.startswith("<script>alert('pwned')</script>")  # shown as text ...
    with pytest.raises(NoAlertPresentException):  # ... and never run
        browser.switch_to.alert.text  # noqa: B018
    tags = [row.text.split()[0] for row in browser.find_elements(By.CSS_SELECTOR, "#tags tbody tr")]
    assert tags == ["latest", "q8"]

    # Copy the pull command.
    host = base.removeprefix("http://")
    command = browser.find_element(By.ID, "pull-command").text
    assert command == f"ollama-py pull --insecure {host}/library/tiny:latest"
    browser.execute_cdp_cmd(
        "Browser.grantPermissions",
        {"origin": base, "permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"]},
    )
    browser.find_element(By.ID, "copy").click()
    wait.until(ec.text_to_be_present_in_element((By.ID, "copy"), "Copied"))
    copied = browser.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "navigator.clipboard.readText().then(done, (e) => done('error: ' + e));"
    )
    assert copied == command
    _shoot(browser, artifacts, "model", DESKTOP)
    _shoot(browser, artifacts, "model", PHONE)
    browser.set_window_size(*DESKTOP)

    # A model alice may not pull is not there.
    browser.get(base + "/ui/models/secret/hidden")
    assert "no model by that name" in browser.find_element(By.TAG_NAME, "main").text

    # Sign out: the session is gone and the list asks for a sign-in again.
    browser.get(base + "/ui/")
    browser.find_element(By.ID, "sign-out").click()
    wait.until(ec.presence_of_element_located((By.ID, "login")))
    assert browser.get_cookie("ollama_py_session") is None

    errors = [e for e in _console_errors(browser) if "/ui/models/secret/hidden" not in e]  # (its 404)
    assert errors == []
    registry_process.proc.terminate()
    assert registry_process.proc.stdout is not None
    assert PASSWORD not in registry_process.proc.stdout.read()  # nor in the server's output
    assert sorted(p.name for p in artifacts.iterdir()) == [
        "list-1280x900.png",
        "list-390x844.png",
        "login-390x844.png",
        "model-1280x900.png",
        "model-390x844.png",
    ]
