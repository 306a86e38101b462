"""The web page over a real registry on loopback: the list, a model page with facts from the config
blob and the GGUF, escaping of everything that came from a push, paging, search, JSON, an empty
registry, and bad input."""

from __future__ import annotations

import re
from pathlib import Path

import aiohttp

from tests.support.registry_server import RunningRegistry, push_image, push_ollama_model

Http = aiohttp.ClientSession

EVIL = "<script>alert('x')</script>"
SHOWN = "&lt;script&gt;alert("  # how the page must show it: as text


async def _text(http: Http, url: str, status: int = 200) -> str:
    async with http.get(url) as r:
        body = await r.text()
        assert r.status == status, body
        if status == 200:
            assert r.content_type == "text/html"
            assert "script-src 'self'" in r.headers["Content-Security-Policy"]
        return body


async def test_root_redirects_to_the_list_and_an_empty_registry_says_so(
    registry: RunningRegistry, http: Http
) -> None:
    async with http.get(f"{registry.url}/", allow_redirects=False) as r:
        assert r.status == 302
        assert r.headers["Location"] == "/ui/"
    page = await _text(http, f"{registry.url}/ui/")
    assert 'id="empty"' in page
    assert "0 models" in page
    async with http.get(f"{registry.url}/ui/api/models") as r:
        assert await r.json() == {
            "models": [],
            "total": 0,
            "page": 1,
            "pages": 1,
            "per_page": 50,
            "query": "",
        }
    async with http.get(f"{registry.url}/ui/api/mirror") as r:
        assert r.status == 404  # not a mirror
    await _text(http, f"{registry.url}/ui/mirror", 404)


async def test_model_page_shows_tags_facts_layers_and_the_pull_command(
    registry: RunningRegistry, http: Http, tiny_gguf: Path
) -> None:
    weights = tiny_gguf.read_bytes()
    config = {"model_format": "gguf", "model_family": "llama", "model_type": "1M", "file_type": "F32"}
    digest = await push_ollama_model(
        http,
        registry.url,
        "library/tiny",
        "latest",
        weights=weights,
        config=config,
        template="{{ .Prompt }}",
        system="You are terse.",
        params={"temperature": 0.5},
        licenses=("MIT License",),
    )
    await push_ollama_model(http, registry.url, "library/tiny", "q8", weights=weights, config=config)
    page = await _text(http, f"{registry.url}/ui/models/library/tiny")
    assert f"ollama-py pull --insecure {registry.host}/library/tiny:latest" in page
    assert digest[:19] in page
    assert re.search(r'id="fact-architecture">llama<', page)
    assert re.search(r'id="fact-quantization">F32<', page)
    assert re.search(r'id="fact-context">256<', page)  # from the GGUF, not the config
    assert "You are terse." in page and "MIT License" in page and "{{ .Prompt }}" in page
    async with http.get(f"{registry.url}/ui/api/models/library/tiny?tag=q8") as r:
        data = await r.json()
    assert data["selected"] == "q8"
    assert [t["tag"] for t in data["tags"]] == ["latest", "q8"]
    assert data["facts"]["architecture"] == "llama"
    assert data["facts"]["parameter_count"] > 0
    assert data["facts"]["context_length"] == 256
    assert data["pull_command"] == f"ollama-py pull --insecure {registry.host}/library/tiny:q8"
    sizes = {t["size"] for t in data["tags"]}
    async with http.get(f"{registry.url}/ui/api/models") as r:
        listing = await r.json()
    (model,) = listing["models"]
    assert model["name"] == "library/tiny" and model["tags"] == ["latest", "q8"]
    assert model["total_size"] == max(sizes)  # blobs shared by both tags count once
    await _text(http, f"{registry.url}/ui/models/library/tiny?tag=nope", 404)
    await _text(http, f"{registry.url}/ui/models/library/absent", 404)
    async with http.get(f"{registry.url}/ui/api/models/library/absent") as r:
        assert r.status == 404
        assert (await r.json())["errors"][0]["code"] == "NAME_UNKNOWN"


async def test_everything_from_a_push_is_escaped(registry: RunningRegistry, http: Http) -> None:
    config = {"model_format": EVIL, "model_family": '"><img src=x onerror=alert(1)>', "file_type": EVIL}
    await push_ollama_model(
        http,
        registry.url,
        "evil/model",
        "latest",
        weights=b"not a gguf " + EVIL.encode(),
        config=config,
        template=EVIL + "{{ .Prompt }}",
        system="</pre>" + EVIL,
        params={"stop": [EVIL]},
        licenses=(EVIL,),
    )
    for url in (
        f"{registry.url}/ui/models/evil/model",
        f"{registry.url}/ui/",
        f"{registry.url}/ui/?q={EVIL}",
    ):
        page = await _text(http, url)
        assert "<script>alert" not in page
        assert "<img src=x" not in page
        assert "</pre><script" not in page
        assert re.findall(r"<script[^>]*>", page) == ['<script src="/ui/static/ui.js" defer>']
    page = await _text(http, f"{registry.url}/ui/models/evil/model")
    assert page.count(SHOWN) >= 5  # template, system, params, license, format, quantization
    page = await _text(http, f"{registry.url}/ui/?q={EVIL}")
    assert SHOWN in page  # the query echoed back, escaped


async def test_search_and_paging(registry: RunningRegistry, http: Http) -> None:
    for i in range(7):
        await push_image(http, registry.url, f"team/model-{i}", "v1", b"{}", [bytes([i]) * 10])
    await push_image(http, registry.url, "other/thing", "v1", b"{}", [b"x"])
    async with http.get(f"{registry.url}/ui/api/models?per_page=3&page=2") as r:
        data = await r.json()
    assert data["total"] == 8 and data["pages"] == 3 and data["page"] == 2
    assert [m["name"] for m in data["models"]] == [
        "team/model-2",
        "team/model-3",
        "team/model-4",
    ]  # after other/thing, model-0, model-1
    async with http.get(f"{registry.url}/ui/api/models?q=MODEL-6") as r:
        assert [m["name"] for m in (await r.json())["models"]] == ["team/model-6"]
    page = await _text(http, f"{registry.url}/ui/?q=team&per_page=3&page=99")  # clamped to the last page
    assert "Page 3 of 3" in page and "7 models" in page and "other/thing" not in page
    async with http.get(f"{registry.url}/ui/api/models?page=x") as r:
        assert r.status == 400


NASTY = [
    "..",
    "../..",
    "a/../b",
    "a//b",
    "%2e%2e",
    "a%2Fb",
    "%00",
    "A/B",
    "a b",
    "é",
    "a\\b",
    "x" * 5000,
    '"><svg onload=alert(1)>',
    "<script>alert(1)</script>",
    "javascript:alert(1)",
    "%3Cscript%3E",
    "-1",
    "99999999999999999999",
    "",
]


async def test_bad_input_is_a_4xx_and_never_echoed_raw_in_html(registry: RunningRegistry, http: Http) -> None:
    await push_image(http, registry.url, "team/m", "v1", b"{}", [b"x"])
    for value in NASTY:
        raw = value.replace("%", "%25").replace(" ", "%20").replace("#", "%23").replace("?", "%3F")
        for path in (
            f"/ui/models/{raw}",
            f"/ui/models/team/m?tag={raw}",
            f"/ui/?q={raw}",
            f"/ui/?page={raw}",
            f"/ui/api/models?q={raw}&per_page={raw}",
            f"/ui/api/models/{raw}",
            f"/ui/login?next={raw}",
            f"/ui/static/{raw}",
        ):
            async with http.get(f"{registry.url}{path}") as r:
                body = await r.text(errors="replace")
                assert r.status < 500, (path, r.status, body[:300])
                if "<" in value and r.content_type == "text/html":  # (JSON errors name it, as /v2/ does)
                    assert value not in body, path
