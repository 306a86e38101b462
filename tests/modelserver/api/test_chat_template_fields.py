"""What a model's Go template sees of a conversation, through the official clients and a real
runner: Ollama's messages are ``api.Message`` structs, so an absent field prints ``""`` (never
``<no value>``), and an OpenAI ``tool`` message carries the name of the call it answers.

The rendered prompt is observed through ``prompt_eval_count``: a template that reads the fields must
give as many prompt tokens as one that writes what Ollama's template would print.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import ollama
import openai

from registry.store.library import Library
from tests.support.gguf_models import add_gguf_model

#: Reads the fields a message may leave out.
READS_FIELDS = (
    "{{ range .Messages }}{{ .Role }}:{{ .Content }}"
    "|{{ .Thinking }}|{{ .ToolName }}|{{ .ToolCallID }}|{{ $.ThinkLevel }};{{ end }}"
)
#: What Go prints for READS_FIELDS when the fields are absent.
FIELDS_ABSENT = "{{ range .Messages }}{{ .Role }}:{{ .Content }}||||;{{ end }}"
#: Reads the tool's name.
READS_TOOL_NAME = "{{ range .Messages }}{{ .Role }}:{{ .ToolName }}:{{ .Content }};{{ end }}"
#: What READS_TOOL_NAME prints when each tool message names get_weather.
TOOL_NAMED = (
    '{{ range .Messages }}{{ .Role }}:{{ if eq .Role "tool" }}get_weather{{ end }}:{{ .Content }};{{ end }}'
)


def _url(client: Any) -> str:
    return f"http://127.0.0.1:{client.server.port}"


async def test_absent_message_fields_render_empty(
    library: Library, tiny_gguf: Path, make_client: Any
) -> None:
    add_gguf_model(library, "reads", tiny_gguf, template=READS_FIELDS)
    add_gguf_model(library, "absent", tiny_gguf, template=FIELDS_ABSENT)
    server = await make_client(library)
    oc = ollama.Client(host=_url(server))
    messages = [{"role": "user", "content": "the word"}, {"role": "assistant", "content": "a"}]
    messages.append({"role": "user", "content": "is it"})

    def counts() -> list[int]:
        return [
            oc.chat(model=m, messages=messages, options={"num_predict": 1}).prompt_eval_count or 0
            for m in ("reads", "absent")
        ]

    reads, absent = await asyncio.to_thread(counts)
    assert reads == absent > 0


async def test_openai_tool_message_gets_the_name_of_its_call(
    library: Library, tiny_gguf: Path, make_client: Any
) -> None:
    add_gguf_model(library, "reads", tiny_gguf, template=READS_TOOL_NAME)
    add_gguf_model(library, "named", tiny_gguf, template=TOOL_NAMED)
    server = await make_client(library)
    oa = openai.OpenAI(base_url=_url(server) + "/v1", api_key="ollama", max_retries=0)
    messages: Any = [
        {"role": "user", "content": "the weather"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "it is hot"},
    ]

    def counts() -> list[int]:
        out = []
        for model in ("reads", "named"):
            reply = oa.chat.completions.create(model=model, messages=messages, max_tokens=1)
            assert reply.usage is not None
            out.append(reply.usage.prompt_tokens)
        return out

    reads, named = await asyncio.to_thread(counts)
    assert reads == named > 0


async def test_absent_tool_fields_render_empty(library: Library, tiny_gguf: Path, make_client: Any) -> None:
    reads = "{{ range .Tools }}{{ .Function.Name }}:{{ .Function.Description }}:{{ .Type }};{{ end }}"
    add_gguf_model(
        library, "reads", tiny_gguf, template=reads + "{{ range .Messages }}{{ .Content }}{{ end }}"
    )
    add_gguf_model(
        library,
        "absent",
        tiny_gguf,
        template="{{ range .Tools }}f::function;{{ end }}{{ range .Messages }}{{ .Content }}{{ end }}",
    )
    server = await make_client(library)
    oc = ollama.Client(host=_url(server))
    tools: Any = [{"function": {"name": "f"}}]  # no description (the client adds the type)

    def counts() -> list[int]:
        return [
            oc.chat(
                model=m,
                messages=[{"role": "user", "content": "the"}],
                tools=tools,
                options={"num_predict": 1},
            ).prompt_eval_count
            or 0
            for m in ("reads", "absent")
        ]

    reads_count, absent_count = await asyncio.to_thread(counts)
    assert reads_count == absent_count > 0
