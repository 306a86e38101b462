"""The model server's OpenAPI 3.1 description, served at ``GET /api/openapi.json``: every route
of Ollama's ``/api``, the OpenAI ``/v1`` (chat, completions, embeddings, models, responses) and the
Anthropic ``/v1/messages`` APIs, with the request bodies each route reads.

Hand-written data. Request schemas name the fields the routes read, with the types they accept;
every body may carry other fields (they are ignored, as Ollama ignores them), so no schema closes
``additionalProperties``. ``tests/modelserver/api/test_openapi_document.py`` checks that the paths
here are exactly the routes the app serves and that the document is valid OpenAPI 3.1; the fuzz
test sends every route bodies drawn from these schemas. Pure.
"""

from __future__ import annotations

from typing import Any

__all__ = ["openapi_document"]

Schema = dict[str, Any]

_STRING: Schema = {"type": "string"}
_INT: Schema = {"type": "integer"}
_NUMBER: Schema = {"type": "number"}
_BOOL: Schema = {"type": "boolean"}
_OBJECT: Schema = {"type": "object"}
_STRINGS: Schema = {"type": "array", "items": _STRING}


def _obj(properties: dict[str, Schema], required: tuple[str, ...] = ()) -> Schema:
    schema: Schema = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    return schema


def _ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


_OPTIONS: Schema = {
    "type": "object",
    "description": "Runner options (temperature, num_predict, num_ctx, stop, seed, ...); null values are ignored.",
}
_KEEP_ALIVE: Schema = {
    "type": ["string", "number"],
    "description": 'A Go duration ("5m") or seconds; negative keeps the model loaded.',
}
_FORMAT: Schema = {
    "oneOf": [{"type": "string", "enum": ["", "json"]}, _OBJECT],
    "description": '"json" or a JSON schema',
}
_THINK: Schema = {"oneOf": [_BOOL, {"type": "string", "enum": ["low", "medium", "high"]}]}
_TOOL_CALL: Schema = _obj(
    {"id": _STRING, "function": _obj({"name": _STRING, "arguments": _OBJECT}, ("name",))}, ("function",)
)
_MESSAGE: Schema = _obj(
    {
        "role": _STRING,
        "content": _STRING,
        "thinking": _STRING,
        "images": _STRINGS,
        "tool_calls": {"type": "array", "items": _TOOL_CALL},
        "tool_name": _STRING,
        "tool_call_id": _STRING,
    },
    ("role",),
)
_TOOL: Schema = _obj(
    {
        "type": {"const": "function"},
        "function": _obj({"name": _STRING, "description": _STRING, "parameters": _OBJECT}, ("name",)),
    },
    ("function",),
)
_MODEL: Schema = {"type": "string", "minLength": 1, "description": "A model name, e.g. gemma3:270m"}

_SCHEMAS: dict[str, Schema] = {
    "Error": _obj({"error": _STRING}, ("error",)),
    "OpenAIError": _obj(
        {"error": _obj({"message": _STRING, "type": _STRING, "param": {}, "code": {}}, ("message", "type"))},
        ("error",),
    ),
    "AnthropicError": _obj(
        {
            "type": {"const": "error"},
            "error": _obj({"type": _STRING, "message": _STRING}, ("type", "message")),
            "request_id": _STRING,
        },
        ("type", "error"),
    ),
    "GenerateRequest": _obj(
        {
            "model": _MODEL,
            "prompt": _STRING,
            "suffix": _STRING,
            "system": _STRING,
            "template": _STRING,
            "context": {"type": "array", "items": _INT},
            "raw": _BOOL,
            "stream": _BOOL,
            "format": _FORMAT,
            "images": _STRINGS,
            "think": _THINK,
            "options": _OPTIONS,
            "keep_alive": _KEEP_ALIVE,
        },
        ("model",),
    ),
    "ChatRequest": _obj(
        {
            "model": _MODEL,
            "messages": {"type": "array", "items": _MESSAGE},
            "tools": {"type": "array", "items": _TOOL},
            "stream": _BOOL,
            "format": _FORMAT,
            "think": _THINK,
            "options": _OPTIONS,
            "keep_alive": _KEEP_ALIVE,
        },
        ("model",),
    ),
    "EmbedRequest": _obj(
        {
            "model": _MODEL,
            "input": {"oneOf": [_STRING, _STRINGS]},
            "truncate": _BOOL,
            "dimensions": _INT,
            "options": _OPTIONS,
            "keep_alive": _KEEP_ALIVE,
        },
        ("model",),
    ),
    "EmbeddingsRequest": _obj(
        {"model": _MODEL, "prompt": _STRING, "options": _OPTIONS, "keep_alive": _KEEP_ALIVE}, ("model",)
    ),
    "ModelRequest": _obj({"model": _MODEL, "name": _MODEL}),
    "ShowRequest": _obj({"model": _MODEL, "name": _MODEL, "verbose": _BOOL}),
    "CopyRequest": _obj({"source": _MODEL, "destination": _MODEL}, ("source", "destination")),
    "TransferRequest": _obj({"model": _MODEL, "name": _MODEL, "insecure": _BOOL, "stream": _BOOL}),
    "CreateRequest": _obj(
        {
            "model": _MODEL,
            "from": _STRING,
            "files": {"type": "object", "additionalProperties": _STRING},
            "adapters": {"type": "object", "additionalProperties": _STRING},
            "template": _STRING,
            "system": _STRING,
            "license": {"oneOf": [_STRING, _STRINGS]},
            "parameters": _OBJECT,
            "messages": {"type": "array", "items": _MESSAGE},
            "quantize": _STRING,
            "stream": _BOOL,
        },
        ("model",),
    ),
    "ChatCompletionRequest": _obj(
        {
            "model": _MODEL,
            "messages": {
                "type": "array",
                "minItems": 1,
                "items": _obj(
                    {
                        "role": _STRING,
                        "content": {
                            "oneOf": [_STRING, {"type": "array", "items": _OBJECT}, {"type": "null"}]
                        },
                        "name": _STRING,
                        "tool_calls": {"type": "array", "items": _OBJECT},
                        "tool_call_id": _STRING,
                    },
                    ("role",),
                ),
            },
            "tools": {"type": "array", "items": _TOOL},
            "stream": _BOOL,
            "stream_options": _obj({"include_usage": _BOOL}),
            "max_tokens": _INT,
            "max_completion_tokens": _INT,
            "temperature": _NUMBER,
            "top_p": _NUMBER,
            "seed": _INT,
            "frequency_penalty": _NUMBER,
            "presence_penalty": _NUMBER,
            "stop": {"oneOf": [_STRING, _STRINGS]},
            "response_format": _obj({"type": _STRING, "json_schema": _OBJECT}),
        },
        ("model", "messages"),
    ),
    "CompletionRequest": _obj(
        {
            "model": _MODEL,
            "prompt": {"oneOf": [_STRING, _STRINGS]},
            "suffix": _STRING,
            "stream": _BOOL,
            "max_tokens": _INT,
            "temperature": _NUMBER,
            "top_p": _NUMBER,
            "seed": _INT,
            "stop": {"oneOf": [_STRING, _STRINGS]},
        },
        ("model",),
    ),
    "EmbeddingsRequestOpenAI": _obj(
        {
            "model": _MODEL,
            "input": {"oneOf": [_STRING, _STRINGS]},
            "dimensions": _INT,
            "encoding_format": {"enum": ["float", "base64"]},
        },
        ("model", "input"),
    ),
    "ResponsesRequest": _obj(
        {
            "model": _MODEL,
            "input": {
                "oneOf": [
                    _STRING,
                    {
                        "type": "array",
                        "items": _obj(
                            {
                                "type": {
                                    "enum": ["message", "function_call", "function_call_output", "reasoning"]
                                },
                                "role": _STRING,
                                "content": {"oneOf": [_STRING, {"type": "array", "items": _OBJECT}]},
                                "call_id": _STRING,
                                "name": _STRING,
                                "arguments": _STRING,
                                "output": {"oneOf": [_STRING, {"type": "array", "items": _OBJECT}]},
                                "encrypted_content": _STRING,
                            }
                        ),
                    },
                ]
            },
            "instructions": _STRING,
            "tools": {
                "type": "array",
                "items": _obj(
                    {
                        "type": {"const": "function"},
                        "name": _STRING,
                        "description": _STRING,
                        "parameters": _OBJECT,
                        "strict": _BOOL,
                    },
                    ("type", "name"),
                ),
            },
            "tool_choice": {
                "oneOf": [
                    {"enum": ["auto", "none", "required"]},
                    _obj({"type": {"const": "function"}, "name": _STRING}, ("type", "name")),
                ]
            },
            "stream": _BOOL,
            "max_output_tokens": _INT,
            "temperature": _NUMBER,
            "top_p": _NUMBER,
            "text": _obj({"format": _obj({"type": _STRING, "schema": _OBJECT})}),
            "reasoning": _obj({"effort": _STRING, "summary": _STRING}),
            "previous_response_id": {
                "type": "null",
                "description": "Not supported (400): nothing is stored; send the whole conversation.",
            },
        },
        ("model",),
    ),
    "MessagesRequest": _obj(
        {
            "model": _MODEL,
            "max_tokens": {"type": "integer", "minimum": 1},
            "system": {"oneOf": [_STRING, {"type": "array", "items": _OBJECT}]},
            "messages": {
                "type": "array",
                "minItems": 1,
                "items": _obj(
                    {
                        "role": {"enum": ["user", "assistant"]},
                        "content": {
                            "oneOf": [
                                _STRING,
                                {
                                    "type": "array",
                                    "items": _obj(
                                        {
                                            "type": {
                                                "enum": [
                                                    "text",
                                                    "image",
                                                    "tool_use",
                                                    "tool_result",
                                                    "thinking",
                                                ]
                                            },
                                            "text": _STRING,
                                            "source": _obj(
                                                {
                                                    "type": {"const": "base64"},
                                                    "media_type": _STRING,
                                                    "data": _STRING,
                                                }
                                            ),
                                            "id": _STRING,
                                            "name": _STRING,
                                            "input": _OBJECT,
                                            "tool_use_id": _STRING,
                                            "content": {
                                                "oneOf": [_STRING, {"type": "array", "items": _OBJECT}]
                                            },
                                            "thinking": _STRING,
                                        },
                                        ("type",),
                                    ),
                                },
                            ]
                        },
                    },
                    ("role", "content"),
                ),
            },
            "tools": {
                "type": "array",
                "items": _obj({"name": _STRING, "description": _STRING, "input_schema": _OBJECT}, ("name",)),
            },
            "tool_choice": _obj(
                {"type": {"enum": ["auto", "any", "tool", "none"]}, "name": _STRING}, ("type",)
            ),
            "stream": _BOOL,
            "stop_sequences": _STRINGS,
            "temperature": _NUMBER,
            "top_p": _NUMBER,
            "top_k": _INT,
            "thinking": _obj({"type": {"enum": ["enabled", "disabled"]}, "budget_tokens": _INT}),
        },
        ("model", "max_tokens", "messages"),
    ),
}
_SCHEMAS["CountTokensRequest"] = {
    **_SCHEMAS["MessagesRequest"],
    "required": ["model", "messages"],
}

_JSON = "application/json"
_NDJSON = "application/x-ndjson"
_SSE = "text/event-stream"


def _body(name: str) -> Schema:
    return {"required": True, "content": {_JSON: {"schema": _ref(name)}}}


def _answer(description: str, *kinds: str, schema: Schema | None = None) -> Schema:
    content = {kind: {"schema": schema or _OBJECT} for kind in kinds or (_JSON,)}
    return {"description": description, "content": content}


def _errors(shape: str) -> dict[str, Schema]:
    error = {"description": "error", "content": {_JSON: {"schema": _ref(shape)}}}
    return {"400": {**error, "description": "bad request"}, "404": {**error, "description": "not found"}}


def _op(
    summary: str, ok: Schema, *, body: str | None = None, errors: str = "Error", tag: str = "ollama"
) -> Schema:
    operation: Schema = {"summary": summary, "tags": [tag], "responses": {"200": ok, **_errors(errors)}}
    if body is not None:
        operation["requestBody"] = _body(body)
    return operation


def _paths() -> dict[str, Schema]:
    ok = _answer("success")
    stream = _answer("one JSON object, or NDJSON events when stream is true", _JSON, _NDJSON)
    sse = _answer("a JSON object, or server-sent events when stream is true", _JSON, _SSE)
    digest = {"name": "digest", "in": "path", "required": True, "schema": {"type": "string"}}
    model = {"name": "model", "in": "path", "required": True, "schema": {"type": "string"}}
    return {
        "/": {"get": _op("Liveness: 'Ollama is running'", _answer("text", "text/plain", schema=_STRING))},
        "/api/version": {"get": _op("The server's version", _answer("{version}"))},
        "/api/openapi.json": {"get": _op("This document", _answer("OpenAPI 3.1"))},
        "/api/tags": {"get": _op("Local models, newest first", _answer("{models}"))},
        "/api/ps": {"get": _op("Loaded models", _answer("{models}"))},
        "/api/show": {
            "post": _op("A model's details (verbose: whole metadata and tensors)", ok, body="ShowRequest")
        },
        "/api/copy": {"post": _op("Copy a model", _answer("copied"), body="CopyRequest")},
        "/api/delete": {"delete": _op("Delete a model", _answer("deleted"), body="ModelRequest")},
        "/api/generate": {"post": _op("Generate a completion", stream, body="GenerateRequest")},
        "/api/chat": {"post": _op("Chat", stream, body="ChatRequest")},
        "/api/embed": {"post": _op("Embeddings (normalised)", ok, body="EmbedRequest")},
        "/api/embeddings": {"post": _op("One embedding (legacy)", ok, body="EmbeddingsRequest")},
        "/api/create": {"post": _op("Create a model", stream, body="CreateRequest")},
        "/api/pull": {"post": _op("Pull a model", stream, body="TransferRequest")},
        "/api/push": {"post": _op("Push a model", stream, body="TransferRequest")},
        "/api/blobs/{digest}": {
            "parameters": [digest],
            "head": {
                "summary": "Whether a blob exists",
                "tags": ["ollama"],
                "responses": {"200": {"description": "exists"}, "404": {"description": "absent"}},
            },
            "post": {
                "summary": "Upload a blob",
                "tags": ["ollama"],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
                    },
                },
                "responses": {
                    "201": {"description": "created"},
                    "200": {"description": "already present"},
                    **_errors("Error"),
                },
            },
        },
        "/v1/chat/completions": {
            "post": _op(
                "OpenAI chat completions",
                sse,
                body="ChatCompletionRequest",
                errors="OpenAIError",
                tag="openai",
            )
        },
        "/v1/completions": {
            "post": _op(
                "OpenAI completions", sse, body="CompletionRequest", errors="OpenAIError", tag="openai"
            )
        },
        "/v1/embeddings": {
            "post": _op(
                "OpenAI embeddings", ok, body="EmbeddingsRequestOpenAI", errors="OpenAIError", tag="openai"
            )
        },
        "/v1/models": {"get": _op("OpenAI model list", ok, errors="OpenAIError", tag="openai")},
        "/v1/models/{model}": {
            "parameters": [model],
            "get": _op("One OpenAI model", ok, errors="OpenAIError", tag="openai"),
        },
        "/v1/responses": {
            "post": _op(
                "OpenAI Responses API", sse, body="ResponsesRequest", errors="OpenAIError", tag="openai"
            )
        },
        "/v1/messages": {
            "post": _op(
                "Anthropic Messages API",
                sse,
                body="MessagesRequest",
                errors="AnthropicError",
                tag="anthropic",
            )
        },
        "/v1/messages/count_tokens": {
            "post": _op(
                "Anthropic token count",
                _answer("{input_tokens}"),
                body="CountTokensRequest",
                errors="AnthropicError",
                tag="anthropic",
            )
        },
    }


def openapi_document(version: str) -> dict[str, Any]:
    """The OpenAPI 3.1 document for server ``version`` (a new dict each call)."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "ollama-py model server",
            "version": version,
            "description": "Ollama's /api, the OpenAI-compatible /v1 and the Anthropic Messages API.",
        },
        "paths": _paths(),
        "components": {"schemas": {name: dict(schema) for name, schema in _SCHEMAS.items()}},
    }
