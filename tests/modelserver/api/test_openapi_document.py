"""``/api/openapi.json``: a valid OpenAPI 3.1 document whose operations are exactly the routes the
model server serves (the fuzz test draws request bodies from it)."""

from __future__ import annotations

from typing import Any

import jsonschema
from hypothesis import given, settings
from hypothesis import strategies as st
from openapi_spec_validator import validate

from registry.modelserver.api.openapi_spec import openapi_document
from registry.store.library import Library
from registry.version import VERSION
from tests.support.schema_values import from_schema


async def test_the_document_is_valid_and_lists_every_route(library: Library, make_client: Any) -> None:
    client = await make_client(library)
    resp = await client.get("/api/openapi.json")
    assert resp.status == 200
    document = await resp.json()
    validate(document)
    assert document["openapi"] == "3.1.0" and document["info"]["version"] == VERSION
    assert document == openapi_document(VERSION)
    served = {
        (route.method, route.resource.canonical)
        for route in client.server.app.router.routes()
        if route.resource is not None
    }
    documented = {
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method in item
        if method != "parameters"
    }
    # aiohttp answers HEAD on every GET route; the document names the HEAD routes of their own
    implicit_heads = {("HEAD", path) for method, path in served if method == "GET"}
    assert documented == served - (implicit_heads - documented)


@settings(max_examples=200, deadline=None, database=None)
@given(data=st.data())
def test_the_fuzzs_schema_values_are_valid_by_the_schemas(data: st.DataObject) -> None:
    schemas = openapi_document(VERSION)["components"]["schemas"]
    name = data.draw(st.sampled_from(sorted(n for n in schemas if n.endswith("Request"))))
    value = data.draw(from_schema(schemas[name]))
    jsonschema.validate(value, schemas[name])
