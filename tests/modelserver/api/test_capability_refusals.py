"""``think``, ``tools`` and ``suffix`` on a model that cannot use them: 400 with Ollama's message,
through the official clients against the real server; ``think: false`` is always accepted."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import ollama
import openai
import pytest

from registry.store.library import Library
from tests.support.gguf_models import add_gguf_model

TOOL: Any = {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}
USER: Any = [{"role": "user", "content": "x"}]
FULL = "registry.ollama.ai/library/tiny:latest"


def _url(client: Any) -> str:
    return f"http://127.0.0.1:{client.server.port}"


async def test_unsupported_features_are_refused(models: Library, make_client: Any) -> None:
    server = await make_client(models)
    oc = ollama.Client(host=_url(server))
    oa = openai.OpenAI(base_url=_url(server) + "/v1", api_key="ollama", max_retries=0)
    two = {"num_predict": 2}

    def refusal(call: Any) -> tuple[int, str]:
        try:
            call()
        except ollama.ResponseError as err:
            return err.status_code, err.error
        except openai.BadRequestError as err:
            return err.status_code, err.body["message"]  # type: ignore[index]
        return 200, ""

    cases = {
        "chat think": lambda: oc.chat(model="tiny", messages=USER, think=True, options=two),
        "generate think": lambda: oc.generate(model="tiny", prompt="x", think=True, options=two),
        "chat think level": lambda: oc.chat(model="tiny", messages=USER, think="high", options=two),
        "chat tools": lambda: oc.chat(model="tiny", messages=USER, tools=[TOOL], options=two),
        "generate suffix": lambda: oc.generate(model="tiny", prompt="x", suffix="y", options=two),
        "openai tools": lambda: oa.chat.completions.create(
            model="tiny", messages=USER, tools=[TOOL], max_tokens=2
        ),
        "openai suffix": lambda: oa.completions.create(model="tiny", prompt="x", suffix="y", max_tokens=2),
    }
    got = await asyncio.to_thread(lambda: {k: refusal(c) for k, c in cases.items()})
    assert got == {
        "chat think": (400, '"tiny" does not support thinking'),
        "generate think": (400, '"tiny" does not support thinking'),
        "chat think level": (400, 'think value "high" is not supported for this model'),
        "chat tools": (400, f"{FULL} does not support tools"),
        "generate suffix": (400, f"{FULL} does not support insert"),
        "openai tools": (400, f"{FULL} does not support tools"),
        "openai suffix": (400, f"{FULL} does not support insert"),
    }


@pytest.mark.parametrize("think", [False, None])
async def test_capable_models_and_think_false_are_served(
    models: Library, make_client: Any, think: bool | None
) -> None:
    server = await make_client(models)
    oc = ollama.Client(host=_url(server))
    two = {"num_predict": 2}

    def calls() -> list[bool]:
        return [
            oc.chat(model="tiny", messages=USER, think=think, options=two).done or False,
            oc.generate(model="tiny", prompt="x", think=think, options=two).done or False,
            oc.chat(model="tiny-tools", messages=USER, tools=[TOOL], options=two).done or False,
            oc.generate(model="tiny-code", prompt="x", suffix="y", options=two).done or False,
        ]

    assert await asyncio.to_thread(calls) == [True, True, True, True]


async def test_show_reports_the_capabilities_checked(
    models: Library, make_client: Any, tiny_gguf: Path
) -> None:
    thinks = "{{ range .Messages }}{{ if .Thinking }}<think>{{ .Thinking }}</think>{{ end }}{{ .Content }}{{ end }}"
    add_gguf_model(models, "thinks", tiny_gguf, template=thinks)
    server = await make_client(models)
    oc = ollama.Client(host=_url(server))
    shown = await asyncio.to_thread(
        lambda: {m: oc.show(m).capabilities for m in ("tiny", "tiny-tools", "tiny-code", "thinks")}
    )
    assert shown == {
        "tiny": ["completion"],
        "tiny-tools": ["completion", "tools"],
        "tiny-code": ["completion", "insert"],
        "thinks": ["completion", "thinking"],
    }
    reply = await asyncio.to_thread(
        lambda: oc.chat(model="thinks", messages=USER, think=True, options={"num_predict": 2})
    )
    assert reply.done


async def test_fill_in_the_middle_with_a_chat_template(
    models: Library, make_client: Any, tiny_gguf: Path
) -> None:
    # qwen2.5-coder's shape: FIM when there is a suffix, else the conversation
    both = (
        "{{ if .Suffix }}<PRE> {{ .Prompt }} <SUF>{{ .Suffix }} <MID>"
        "{{ else if .Messages }}{{ range .Messages }}{{ .Content }}{{ end }}{{ end }}"
    )
    add_gguf_model(models, "coder", tiny_gguf, template=both)
    server = await make_client(models)
    oc = ollama.Client(host=_url(server))

    def counts() -> list[int]:
        return [
            oc.generate(model=m, prompt="the", suffix="word", options={"num_predict": 1}).prompt_eval_count
            or 0
            for m in ("coder", "tiny-code")
        ]

    coder, legacy = await asyncio.to_thread(counts)
    assert coder == legacy > 0
