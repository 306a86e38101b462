"""Issue 10, item 7 (through the server): a request's ``template`` that would run away is a 400 with a
message, it is rendered off the event loop (the server keeps answering while it runs), and no
runner is started for it."""

from __future__ import annotations

import asyncio
import resource
from typing import Any

from registry.modelserver.api import keys
from registry.store.library import Library

#: Nested ranges over the message list: quadratic-and-worse work, the shape the issue measured
#: (7.8 s and 409 MiB on the event loop).
RUNAWAY = "{{range 1000}}{{range 1000}}{{range 1000}}{{$.Prompt}}{{end}}{{end}}{{end}}"


async def test_a_runaway_template_is_400_and_the_server_keeps_answering(
    models: Library, make_client: Any
) -> None:
    client = await make_client(models)
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    hostile = asyncio.ensure_future(
        client.post(
            "/api/generate",
            json={"model": "tiny", "prompt": "p" * 1000, "template": RUNAWAY, "stream": False},
        )
    )
    answered_meanwhile = 0
    while not hostile.done():
        resp = await client.get("/api/version")
        assert resp.status == 200
        if not hostile.done():
            answered_meanwhile += 1
    resp = hostile.result()
    body = await resp.json()
    assert resp.status == 400 and body["error"].startswith("template error: template: execution")
    # rendered off the event loop: many requests were answered while it ran (on the loop: none)
    assert answered_meanwhile >= 3
    assert client.server.app[keys.SCHEDULER].loaded() == []  # a request template needs no runner
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before
    assert grown_kib < 256 * 1024


async def test_template_errors_are_400_with_a_message(models: Library, make_client: Any) -> None:
    client = await make_client(models)
    for template, expected in (
        ("{{range 1000000000000}}x{{end}}", "exceeds the limit"),
        ("{{if 1}}" * 3000 + "{{end}}" * 3000, "nested too deeply"),
        ("{{" * 100_000, "unclosed action"),
        ("{{ nofunc }}", "not defined"),
        ("{{ lt .Prompt 1 }}", "incompatible types"),
    ):
        resp = await client.post("/api/generate", json={"model": "tiny", "prompt": "x", "template": template})
        body = await resp.json()
        assert resp.status == 400 and expected in body["error"], (template[:30], body)
    resp = await client.post(
        "/api/generate",
        json={
            "model": "tiny",
            "prompt": "hi",
            "template": "[{{ .Prompt }}]",
            "stream": False,
            "options": {"num_predict": 2},
        },
    )
    assert resp.status == 200 and (await resp.json())["done"] is True
