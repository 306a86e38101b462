"""What real clients legitimately send is never refused by the model server's input validation
(no false 400/403), checked against Ollama's behaviour: the official ``ollama`` and ``openai``
clients' shapes, the raw JSON LangChain, LiteLLM and LlamaIndex send, every form of ``keep_alive``,
integer options sent as floats, removed options, the Host names local clients use and Ollama's
default origins. Real server, real runners (tiny GGUF); one server per test, many shapes each."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import ollama
import openai

from registry.config import HostAddress
from registry.hosts.interface_addresses import interface_addresses
from registry.hosts.local_names import host_allowed
from registry.store.library import Library

#: Options the runner accepts, each as a JSON type a client may send (floats for integers, as Go
#: decodes every JSON number to float64 and Ollama truncates it).
NUMBERS_AS_FLOATS = {
    "num_ctx": 256.0,
    "num_batch": 64.0,
    "num_thread": 2.0,
    "num_gpu": 0.0,
    "main_gpu": 0.0,
    "num_keep": 4.0,
    "seed": 42.0,
    "num_predict": 2.0,
    "top_k": 40.0,
    "repeat_last_n": 64.0,
    "top_p": 1,
    "min_p": 0,
    "typical_p": 1,
    "temperature": 0,
    "repeat_penalty": 1,
    "presence_penalty": 0,
    "frequency_penalty": 0,
}

#: Options Ollama removed: ignored, never a 400 (old clients and Modelfiles still send them).
REMOVED_OPTIONS = {
    "low_vram": False,
    "f16_kv": True,
    "vocab_only": False,
    "use_mlock": False,
    "logits_all": False,
    "numa": False,
    "mirostat": 0,
    "mirostat_tau": 5.0,
    "mirostat_eta": 0.1,
    "tfs_z": 1.0,
    "penalize_newline": True,
    "num_gqa": 1,
    "rope_frequency_base": 10000.0,
    "embedding_only": False,
}

#: LangChain's ChatOllama (before it dropped nulls): every option it knows, unset ones as null.
LANGCHAIN_NULL_OPTIONS = {
    "mirostat": None,
    "mirostat_eta": None,
    "mirostat_tau": None,
    "num_ctx": None,
    "num_gpu": None,
    "num_thread": None,
    "num_predict": 2,
    "repeat_last_n": None,
    "repeat_penalty": None,
    "temperature": None,
    "seed": None,
    "stop": None,
    "tfs_z": None,
    "top_k": None,
    "top_p": None,
}

KEEP_ALIVES: tuple[Any, ...] = ("5m", 300, -1, "0", "-1m", 3.5, None, "1h30m", "24h", "-1", 0, "0s", "300ms")


def _error(body: Any) -> str:
    error = body.get("error") if isinstance(body, dict) else None
    return str(error["message"] if isinstance(error, dict) else error)


async def _refusals(client: Any, calls: list[tuple[str, dict[str, Any]]]) -> list[str]:
    """Every call that was not a 200, with its status and message."""
    bad = []
    for path, body in calls:
        resp = await client.post(path, json=body)
        text = await resp.text()
        if resp.status != 200 or '"error"' in text:
            bad.append(f"{path} {body!r} -> {resp.status} {text[:300]}")
    return bad


async def test_ollama_generate_shapes_are_accepted(models: Library, make_client: Any) -> None:
    client = await make_client(models)
    base = {"model": "tiny", "prompt": "the", "stream": False}
    two = {"num_predict": 2}
    bodies: list[dict[str, Any]] = [
        {**base, "options": NUMBERS_AS_FLOATS},
        {**base, "options": {**two, **REMOVED_OPTIONS}},
        {**base, "options": {**two, "stop": "\n"}},
        {**base, "options": {**two, "stop": []}},
        {**base, "options": {**two, "use_mmap": True, "num_gpu": -1, "seed": -1, "num_keep": -1}},
        {**base, "options": {**two, "num_predict": -1, "repeat_last_n": -1, "num_ctx": 0}},
        {**base, "options": LANGCHAIN_NULL_OPTIONS},
        {**base, "options": None},
        {**base, "options": {}},
        *({**base, "options": two, "keep_alive": k} for k in KEEP_ALIVES),
        *({**base, "options": two, "format": f} for f in ("json", "", None)),
        {**base, "options": two, "format": {"type": "object", "properties": {"a": {"type": "string"}}}},
        *({**base, "options": two, "think": t} for t in (False, None)),
        {**base, "options": two, "images": None},
        {**base, "options": two, "images": []},
        {**base, "options": two, "context": None, "system": "", "template": "", "suffix": ""},
        {**base, "options": two, "context": []},
        {**base, "options": two, "raw": True, "template": "", "system": "", "context": None},
        {**base, "options": two, "truncate": True, "shift": True, "logprobs": False, "top_logprobs": 0},
        # LiteLLM's ollama provider
        {
            **base,
            "options": {"num_predict": 2, "temperature": 0.2, "stop": ["\n\n"]},
            "format": "json",
            "images": [],
        },
    ]
    assert await _refusals(client, [("/api/generate", b) for b in bodies]) == []


async def test_ollama_chat_shapes_are_accepted(models: Library, make_client: Any) -> None:
    client = await make_client(models)
    two = {"num_predict": 2}
    call = {"id": "call_abc12345", "function": {"index": 0, "name": "f", "arguments": {"a": 1}}}
    tool = {
        "type": "function",
        "function": {"name": "f", "description": "d", "parameters": {"type": "object"}},
    }
    message_lists: list[list[dict[str, Any]]] = [
        [{"role": "user", "content": ""}],
        [{"role": "user", "content": "hi", "images": []}],
        [{"role": "user", "content": "hi", "images": None}],
        [{"role": "system", "content": "s"}, {"role": "User", "content": "hi"}],
        [
            {"role": "user", "content": "x"},
            {"role": "assistant", "thinking": "hmm"},
            {"role": "user", "content": "y"},
        ],
        [
            {"role": "user", "content": "x"},
            {"role": "assistant", "content": "", "thinking": "t", "tool_calls": [call]},
        ],
        [
            {"role": "user", "content": "x"},
            {"role": "assistant", "content": "", "tool_calls": [{**call, "type": "function"}]},
            {"role": "tool", "content": "42", "tool_name": "f"},
        ],
        [
            {"role": "user", "content": "x"},
            {"role": "assistant", "tool_calls": [call]},
            {"role": "tool", "content": "42", "tool_call_id": "call_abc12345"},
        ],
        [
            {"role": "user", "content": "x"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [{"function": {"name": "f", "arguments": {}}}],
            },
            {"role": "tool", "content": "", "name": "f"},
        ],
    ]
    bodies: list[dict[str, Any]] = [
        {"model": "tiny", "messages": m, "stream": False, "options": two} for m in message_lists
    ]
    chat = {"model": "tiny", "messages": [{"role": "user", "content": "hi"}], "stream": False}
    bodies += [
        {**chat, "options": NUMBERS_AS_FLOATS},
        {**chat, "options": {**two, **REMOVED_OPTIONS}},
        {**chat, "options": LANGCHAIN_NULL_OPTIONS, "format": "", "keep_alive": None},
        {**chat, "model": "tiny-tools", "options": two, "tools": [tool]},
        {
            **chat,
            "model": "tiny-tools",
            "options": two,
            "tools": [{"function": tool["function"]}],
        },  # no "type"
        {**chat, "options": two, "tools": []},
        {**chat, "options": two, "tools": None},
        {
            **chat,
            "model": "tiny-tools",
            "options": two,
            "tools": [
                {
                    "type": "function",
                    "function": {
                        "name": "g",
                        "parameters": {
                            "type": "object",
                            "$defs": {"P": {"type": "object", "properties": {"x": {"type": "integer"}}}},
                            "properties": {"p": {"$ref": "#/$defs/P"}, "e": {"enum": ["a", "b"]}},
                            "required": ["p"],
                        },
                    },
                }
            ],
        },
        *({**chat, "options": two, "format": f} for f in ("json", "", None)),
        *({**chat, "options": two, "keep_alive": k} for k in KEEP_ALIVES),
        {**chat, "options": two, "think": False},
        {**chat, "options": two, "truncate": True, "shift": False, "logprobs": False, "top_logprobs": 0},
        # LiteLLM's ollama_chat provider
        {
            **chat,
            "options": {"num_predict": 2, "temperature": 0.7, "top_p": 1, "stop": ["x"]},
            "format": "json",
        },
    ]
    assert await _refusals(client, [("/api/chat", b) for b in bodies]) == []


async def test_ollama_embedding_shapes_are_accepted(models: Library, make_client: Any) -> None:
    client = await make_client(models)
    calls = [
        ("/api/embed", {"model": "tiny", "input": "the"}),
        ("/api/embed", {"model": "tiny", "input": ["the", "a"], "truncate": True, "dimensions": None}),
        ("/api/embed", {"model": "tiny", "input": ["the"], "dimensions": 8, "keep_alive": "5m"}),
        ("/api/embed", {"model": "tiny", "input": [], "options": {"num_ctx": 256.0}}),
        ("/api/embed", {"model": "tiny", "input": "the", "options": REMOVED_OPTIONS, "keep_alive": -1}),
        (
            "/api/embeddings",
            {"model": "tiny", "prompt": "the", "options": {"temperature": 0}, "keep_alive": None},
        ),
    ]
    assert await _refusals(client, calls) == []


async def test_openai_shapes_are_accepted(models: Library, make_client: Any) -> None:
    client = await make_client(models)
    tool = {
        "type": "function",
        "function": {"name": "f", "description": "d", "parameters": {"type": "object"}, "strict": True},
    }
    chat: dict[str, Any] = {"model": "tiny", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}
    tools_chat = {**chat, "model": "tiny-tools", "tools": [tool]}
    history = [
        {"role": "developer", "content": "be brief"},
        {"role": "system", "content": [{"type": "text", "text": "s"}]},
        {"role": "user", "content": [{"type": "text", "text": "x"}], "name": "me"},
        {
            "role": "assistant",
            "content": None,
            "refusal": None,
            "audio": None,
            "function_call": None,
            "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
            ],
        },
        {"role": "tool", "content": [{"type": "text", "text": "42"}], "tool_call_id": "call_1"},
        {"role": "assistant", "content": "ok", "tool_calls": []},
        {"role": "user", "content": "y"},
    ]
    schema = {"type": "object", "properties": {"b": {"type": "boolean"}}, "required": ["b"]}
    bodies: list[dict[str, Any]] = [
        {**chat, "messages": history},
        {
            **chat,
            "n": 1,
            "logit_bias": {},
            "user": "u",
            "seed": 1,
            "stop": "\n",
            "temperature": 2,
            "top_p": 1,
            "presence_penalty": -2,
            "frequency_penalty": 2,
            "logprobs": False,
            "store": False,
            "metadata": {},
            "service_tier": "auto",
            "reasoning_effort": "none",  # a level on a model that cannot think is a 400, as Ollama
        },
        {**chat, "temperature": 0, "presence_penalty": 2.0, "frequency_penalty": -2.0, "stop": ["a", "b"]},
        {**chat, "max_tokens": None, "max_completion_tokens": 2},
        {**chat, "stop": None, "seed": None, "temperature": None, "top_p": None, "user": None},
        *({**tools_chat, "tool_choice": c} for c in ("auto", "none", "required")),
        {**tools_chat, "tool_choice": {"type": "function", "function": {"name": "f"}}},
        {**tools_chat, "parallel_tool_calls": True},
        {**chat, "response_format": {"type": "text"}},
        {**chat, "response_format": {"type": "json_object"}},
        {
            **chat,
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "b", "schema": schema, "strict": True},
            },
        },
        {**chat, "stream": False, "stream_options": None},
    ]
    calls = [("/v1/chat/completions", b) for b in bodies]
    completion = {"model": "tiny", "prompt": "the", "max_tokens": 2}
    calls += [
        (
            "/v1/completions",
            {**completion, "n": 1, "echo": False, "best_of": 1, "logprobs": None, "suffix": None},
        ),
        ("/v1/completions", {**completion, "stop": "\n", "seed": 1, "temperature": 0, "user": "u"}),
        (
            "/v1/completions",
            {**completion, "prompt": ["the"], "frequency_penalty": 0.5, "presence_penalty": 0.5},
        ),
        ("/v1/embeddings", {"model": "tiny", "input": "the"}),
        (
            "/v1/embeddings",
            {"model": "tiny", "input": ["the", "a"], "encoding_format": "float", "dimensions": None},
        ),
        ("/v1/embeddings", {"model": "tiny", "input": ["the"], "encoding_format": "base64", "user": "u"}),
    ]
    assert await _refusals(client, calls) == []


async def _status(url: str, headers: dict[str, str], method: str = "GET") -> int:
    async with aiohttp.ClientSession() as http, http.request(method, url, headers=headers) as r:
        return r.status


async def test_host_names_local_clients_send_are_answered(library: Library, make_client: Any) -> None:
    client = await make_client(library)
    port = client.server.port
    url = str(client.make_url("/api/version"))
    hosts = [
        f"localhost:{port}",
        f"127.0.0.1:{port}",
        f"[::1]:{port}",
        f"[0:0:0:0:0:0:0:1]:{port}",
        f"0.0.0.0:{port}",
        f"host.docker.internal:{port}",
        f"gateway.docker.internal:{port}",
        f"{socket.gethostname()}:{port}",
        f"{socket.gethostname().upper()}:{port}",
        f"myhost.local:{port}",
        f"app.localhost:{port}",
        f"172.17.0.1:{port}",
        f"[fe80::1]:{port}",
        f"[fd00::1]:{port}",
    ]
    bad = [h for h in hosts if await _status(url, {"Host": h}) != 200]
    assert bad == []


async def test_ollama_default_origins_pass_cors(library: Library, make_client: Any) -> None:
    client = await make_client(library)
    url = str(client.make_url("/api/tags"))
    origins = [
        "http://localhost",
        "http://localhost:3000",
        "https://localhost:8443",
        "http://127.0.0.1:5173",
        "https://127.0.0.1",
        "http://0.0.0.0:8080",
        "app://obsidian.md",
        "app://-",
        "file://",
        "tauri://localhost",
        "vscode-webview://1b2c3d4e5f",
        "vscode-file://vscode-app",
    ]
    bad = []
    for origin in origins:
        for method, headers in (
            ("GET", {"Origin": origin}),
            ("OPTIONS", {"Origin": origin, "Access-Control-Request-Method": "POST"}),
        ):
            status = await _status(url, headers, method)
            if status not in (200, 204):
                bad.append((origin, method, status))
    assert bad == []


async def test_same_origin_requests_pass_cors(library: Library, make_client: Any) -> None:
    """A web UI behind a reverse proxy that keeps ``Host`` calls the API from its own origin:
    Ollama's CORS (gin-contrib/cors) lets an Origin equal to ``http(s)://<Host>`` through."""
    client = await make_client(library, host=HostAddress(host="0.0.0.0"))
    url = str(client.make_url("/api/tags"))
    for host in ("ollama.example.com", "ollama.example.com:8443", "192.168.1.10:11434"):
        for scheme in ("http", "https"):
            status = await _status(url, {"Host": host, "Origin": f"{scheme}://{host}"})
            assert status == 200, (host, scheme)
    assert await _status(url, {"Host": "ollama.example.com", "Origin": "https://evil.example"}) == 403
    assert (
        await _status(url, {"Host": "ollama.example.com", "Origin": "https://ollama.example.com.evil"}) == 403
    )


async def test_ollama_origins_patterns_users_write_match_as_in_ollama(
    library: Library, make_client: Any
) -> None:
    """Ollama matches a pattern ending in ``*`` as a prefix and one starting with ``*`` as a
    suffix, so ``http://192.168.1.*`` allows any port and ``*.example.com`` any scheme."""
    client = await make_client(
        library, origins=("http://192.168.1.*", "*.example.com", "chrome-extension://*")
    )
    url = str(client.make_url("/api/tags"))
    for origin in (
        "http://192.168.1.5",
        "http://192.168.1.5:3000",
        "https://app.example.com",
        "http://app.example.com",
        "chrome-extension://abcdefghijklmnop",
    ):
        assert await _status(url, {"Origin": origin}) == 200, origin
    for origin in (
        "http://192.168.2.5:3000",
        "https://192.168.1.5",
        "http://192.168.1.5:1@evil",
        "https://app.example.com.evil",
        "https://app.example.com:8443",
        "moz-extension://abc",
    ):
        assert await _status(url, {"Origin": origin}) == 403, origin


async def test_unsigned_64_bit_seeds_are_accepted(models: Library, make_client: Any) -> None:
    """A seed made from a 64-bit hash (``hash(x) & (2**64 - 1)``) is a seed: Ollama accepts every
    JSON number for an integer option; the runner uses its low 32 bits, as llama.cpp's seed is a
    ``uint32``. Beyond ``uint64`` a seed is refused."""
    client = await make_client(models)
    calls = [
        (
            "/api/generate",
            {"model": "tiny", "prompt": "the", "stream": False, "options": {"num_predict": 2, "seed": s}},
        )
        for s in (2**64 - 1, 2**63, 2**32 + 7, -(2**63))
    ]
    calls.append(
        (
            "/v1/chat/completions",
            {
                "model": "tiny",
                "messages": [{"role": "user", "content": "x"}],
                "seed": 2**64 - 1,
                "max_tokens": 2,
            },
        )
    )
    assert await _refusals(client, calls) == []
    resp = await client.post(
        "/api/generate", json={"model": "tiny", "prompt": "x", "options": {"seed": 2**64}}
    )
    assert resp.status == 400 and "seed" in _error(await resp.json())


async def test_official_clients_with_every_parameter_they_have(models: Library, make_client: Any) -> None:
    """``ollama.Options`` with every field it has (removed ones included) and the ``openai``
    client with every chat parameter a local server may be sent, through the clients unchanged."""
    server = await make_client(models)
    url = f"http://127.0.0.1:{server.server.port}"
    oc = ollama.Client(host=url)
    oa = openai.OpenAI(base_url=url + "/v1", api_key="ollama", max_retries=0)
    every = {name: 0 for name in ollama.Options.model_fields}
    every.update({**REMOVED_OPTIONS, **NUMBERS_AS_FLOATS, "use_mmap": True, "stop": ["\n"]})
    every = {k: v for k, v in every.items() if k in ollama.Options.model_fields}
    opts = ollama.Options(**every)

    def add(a: int, b: int) -> int:
        """Add two numbers.

        Args:
          a: the first
          b: the second
        """
        return a + b

    tool: Any = {
        "type": "function",
        "function": {"name": "f", "parameters": {"type": "object", "properties": {}}, "strict": True},
    }
    two = {"num_predict": 2}
    user: Any = [{"role": "user", "content": "x"}]
    calls: dict[str, Callable[[], Any]] = {
        "generate": lambda: oc.generate(
            model="tiny", prompt="x", options=opts, keep_alive="5m", format="json", think=False, images=[]
        ),
        "generate keep_alive -1": lambda: oc.generate(
            model="tiny", prompt="x", options=two, keep_alive=-1, format=""
        ),
        "generate keep_alive 3.5": lambda: oc.generate(
            model="tiny", prompt="x", options=two, keep_alive=3.5, suffix="", system="s", context=[]
        ),
        "chat": lambda: oc.chat(
            model="tiny",
            messages=[ollama.Message(role="user", content="x", images=[])],
            options=opts,
            think=False,
            tools=[],
        ),
        "chat with a function as a tool": lambda: oc.chat(
            model="tiny-tools", messages=user, tools=[add], options=two
        ),
        "chat stream": lambda: list(oc.chat(model="tiny", messages=user, stream=True, options=two)),
        "embed": lambda: oc.embed(model="tiny", input="x", truncate=True, keep_alive="1m", options=opts),
        "embed dimensions": lambda: oc.embed(model="tiny", input=["x"], dimensions=4),
        "embeddings": lambda: oc.embeddings(model="tiny", prompt="x", options=opts, keep_alive="0s"),
        "create with parameters": lambda: oc.create(
            model="tiny3",
            from_="tiny",
            system="hi",
            parameters={"num_ctx": 256, "stop": ["x"], "temperature": 0.5, "num_predict": 2},
            stream=False,
        ),
        "generate on the created model": lambda: oc.generate(model="tiny3", prompt="x"),
        "openai chat": lambda: oa.chat.completions.create(
            model="tiny-tools",
            messages=[
                {"role": "developer", "content": "d"},
                {"role": "user", "content": [{"type": "text", "text": "x"}]},
            ],
            max_completion_tokens=2,
            n=1,
            logit_bias={},
            user="u",
            seed=3,
            stop="\n",
            temperature=2,
            top_p=0.5,
            presence_penalty=-2,
            frequency_penalty=2,
            tool_choice="none",
            tools=[tool],
            parallel_tool_calls=False,
            response_format={"type": "json_object"},
            logprobs=False,
            store=False,
            metadata={"a": "b"},
            reasoning_effort="none",  # a level on a model that cannot think is a 400, as Ollama
            service_tier="auto",
        ),
        "openai stream": lambda: list(
            oa.chat.completions.create(
                model="tiny", messages=user, max_tokens=2, stream=True, stream_options={"include_usage": True}
            )
        ),
        "openai completion": lambda: oa.completions.create(
            model="tiny-code",
            prompt="x",
            max_tokens=2,
            echo=False,
            n=1,
            best_of=1,
            stop=["\n"],
            suffix="s",
            user="u",
            seed=1,
        ),
        "openai embeddings (base64 by default)": lambda: oa.embeddings.create(model="tiny", input="x"),
        "openai embeddings": lambda: oa.embeddings.create(
            model="tiny", input=["x", "y"], encoding_format="float", dimensions=4, user="u"
        ),
    }

    def run_all() -> list[str]:
        failed = []
        for name, call in calls.items():
            try:
                call()
            except (ollama.ResponseError, openai.APIError) as err:
                failed.append(f"{name}: {err}")
        return failed

    assert await asyncio.to_thread(run_all) == []


FIB_TRIE = """Main:
  +-- 0.0.0.0/0 3 0 5
     |-- 0.0.0.0
        /0 universe UNICAST
     +-- 127.0.0.0/8 2 0 2
        +-- 127.0.0.0/31 1 0 0
           |-- 127.0.0.0
              /8 host LOCAL
           |-- 127.0.0.1
              /32 host LOCAL
        |-- 127.255.255.255
           /32 link BROADCAST
     +-- 93.184.215.0/24 2 0 2
        +-- 93.184.215.0/30 2 0 2
           |-- 93.184.215.0
              /24 link UNICAST
           |-- 93.184.215.7
              /32 host LOCAL
        |-- 93.184.215.255
           /32 link BROADCAST
"""
IF_INET6 = """26064700000000000000000000000007 04 40 00 80     eth0
00000000000000000000000000000001 01 80 10 80       lo
"""


def test_a_host_naming_an_address_of_this_machine_is_local(tmp_path: Path) -> None:
    """Ollama's ``isLocalIP``: a ``Host`` that is one of this machine's interface addresses (a
    public one too: a reverse proxy on this machine that keeps ``Host``) is allowed; another
    public address is not."""
    (tmp_path / "fib_trie").write_text(FIB_TRIE)
    (tmp_path / "if_inet6").write_text(IF_INET6)
    addresses = interface_addresses(fib_trie=tmp_path / "fib_trie", if_inet6=tmp_path / "if_inet6")
    assert {str(a) for a in addresses} == {"127.0.0.1", "93.184.215.7", "2606:4700::7", "::1"}

    def mine(address: Any) -> bool:
        return address in addresses

    for host in ("93.184.215.7", "93.184.215.7:80", "[2606:4700::7]:11434"):
        assert host_allowed(host, "127.0.0.1", "box", is_local_address=mine), host
    for host in ("93.184.215.8:80", "[2606:4700::8]:11434", "8.8.8.8"):
        assert not host_allowed(host, "127.0.0.1", "box", is_local_address=mine), host
    assert not host_allowed("93.184.215.7", "127.0.0.1", "box")  # without the reader: not local
    assert {str(a) for a in interface_addresses()} >= {"127.0.0.1"}  # this machine's, read for real


async def test_openai_embedding_of_an_empty_string_is_one_vector(models: Library, make_client: Any) -> None:
    """Ollama's OpenAI middleware turns ``input: ""`` into ``[""]``: one embedding, not a 400
    (``embed_query("")`` of a RAG pipeline); no input at all or ``[]`` stays a 400."""
    client = await make_client(models)
    resp = await client.post("/v1/embeddings", json={"model": "tiny", "input": ""})
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert [d["index"] for d in body["data"]] == [0] and len(body["data"][0]["embedding"]) == 64
    for bad in ({"model": "tiny"}, {"model": "tiny", "input": []}, {"model": "tiny", "input": None}):
        resp = await client.post("/v1/embeddings", json=bad)
        assert resp.status == 400 and _error(await resp.json()) == "invalid input"


async def test_a_long_prompt_full_of_brackets_and_quotes_is_not_taken_for_containers(
    models: Library, make_client: Any
) -> None:
    """The body's container bound counts arrays, objects and strings of the JSON, not the
    brackets and quotes inside its strings: a long source file or JSON document pasted into a
    prompt (here 2.2 M brackets and strings' worth of quotes in one string) is one string."""
    client = await make_client(models)
    prompt = '[[{"": [""]}]],' * 360_000  # a JSON document pasted into the prompt
    resp = await client.post(
        "/api/generate",
        json={"model": "tiny", "prompt": prompt, "raw": True, "stream": False, "options": {"num_predict": 1}},
    )
    assert resp.status == 200, (await resp.text())[:300]


async def test_a_body_of_millions_of_containers_is_still_refused(models: Library, make_client: Any) -> None:
    client = await make_client(models)
    for many in ("[]," * 2_100_000, '"",' * 2_100_000, '{"a": [""]},' * 700_001):
        body = '{"model": "tiny", "prompt": "x", "x": [' + many + "1]}"
        resp = await client.post("/api/generate", data=body, headers={"Content-Type": "application/json"})
        assert resp.status == 400, (await resp.text())[:300]
        assert "more than 2000000 arrays, objects and strings" in _error(await resp.json())


async def test_streamed_responses_carry_cors_headers(models: Library, make_client: Any) -> None:
    """A browser reads a cross-origin response only with ``Access-Control-Allow-Origin``: a
    streamed reply (NDJSON, SSE; the default of ollama-js and of the OpenAI JS client) needs it
    as much as a JSON one (Obsidian's ``app://obsidian.md``, a dev server on localhost)."""
    client = await make_client(models)
    chat = {"model": "tiny", "messages": [{"role": "user", "content": "x"}]}
    calls = [
        ("/api/chat", {**chat, "options": {"num_predict": 2}}),
        ("/api/generate", {"model": "tiny", "prompt": "x", "options": {"num_predict": 2}}),
        ("/v1/chat/completions", {**chat, "max_tokens": 2, "stream": True}),
        ("/v1/completions", {"model": "tiny", "prompt": "x", "max_tokens": 2, "stream": True}),
        ("/api/pull", {"model": "127.0.0.1:9/none/none", "insecure": True}),
    ]
    missing = []
    for origin in ("app://obsidian.md", "http://localhost:5173"):
        for path, body in calls:
            resp = await client.post(path, json=body, headers={"Origin": origin})
            await resp.read()
            if resp.headers.get("Access-Control-Allow-Origin") != origin:
                missing.append((origin, path, resp.status, dict(resp.headers)))
    assert missing == []


async def test_openai_assistant_message_with_null_content_and_empty_tool_calls(
    models: Library, make_client: Any
) -> None:
    """Ollama's OpenAI middleware lets ``content: null`` through whenever ``tool_calls`` is
    present, an empty list included (Go decodes ``[]`` to a non-nil slice), as frameworks replay
    an assistant turn; with ``tool_calls`` null or absent it stays a 400."""
    client = await make_client(models)
    history = [
        {"role": "user", "content": "x"},
        {"role": "assistant", "content": None, "tool_calls": []},
        {"role": "user", "content": "y"},
    ]
    resp = await client.post(
        "/v1/chat/completions", json={"model": "tiny", "messages": history, "max_tokens": 2}
    )
    assert resp.status == 200, await resp.text()
    for bad in (
        {"role": "assistant", "content": None, "tool_calls": None},
        {"role": "assistant", "content": None},
    ):
        resp = await client.post("/v1/chat/completions", json={"model": "tiny", "messages": [bad]})
        assert resp.status == 400 and "invalid message content type" in _error(await resp.json())


async def test_ollama_assistant_message_with_empty_tool_calls_and_no_content(
    models: Library, make_client: Any
) -> None:
    """An assistant turn replayed as the ollama client serializes it when it had neither text
    nor calls (``content`` left out as None, ``tool_calls: []``) is accepted; a message with
    nothing at all stays a 400 (issue 10 item 16)."""
    client = await make_client(models)
    history = [
        {"role": "user", "content": "x"},
        {"role": "assistant", "tool_calls": []},
        {"role": "user", "content": "y"},
    ]
    body = {"model": "tiny", "messages": history, "stream": False, "options": {"num_predict": 2}}
    resp = await client.post("/api/chat", json=body)
    assert resp.status == 200, await resp.text()
    resp = await client.post("/api/chat", json={**body, "messages": [{"role": "assistant"}]})
    assert resp.status == 400 and "content is required" in _error(await resp.json())
