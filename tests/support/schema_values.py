"""Hypothesis strategies for values of a JSON schema, the subset the model server's OpenAPI
document uses: ``type`` (one or a list), ``properties`` with ``required``, ``items``,
``additionalProperties``, ``enum``, ``const``, ``oneOf``, ``minItems``, ``minimum``,
``minLength``. Optional properties are left out or drawn; ``{}`` is any JSON value.

(``hypothesis-jsonschema`` does the general case but does not run with today's Hypothesis.)
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

__all__ = ["from_schema"]

_ANY_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**40), 2**40)
    | st.floats(allow_nan=False)
    | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)


def _of_type(kind: str, schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    if kind == "string":
        return st.text(min_size=schema.get("minLength", 0), max_size=24)
    if kind == "integer":
        return st.integers(min_value=schema.get("minimum", -(2**33)), max_value=2**33)
    if kind == "number":
        return st.floats(min_value=schema.get("minimum"), allow_nan=False, allow_infinity=False)
    if kind == "boolean":
        return st.booleans()
    if kind == "null":
        return st.none()
    if kind == "array":
        return st.lists(from_schema(schema.get("items", {})), min_size=schema.get("minItems", 0), max_size=3)
    if kind == "object":
        return _object(schema)
    raise ValueError(f"unsupported type {kind!r}")


def _object(schema: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    properties: dict[str, Any] = schema.get("properties", {})
    required = set(schema.get("required", ()))
    fixed = {k: from_schema(v) for k, v in properties.items() if k in required}
    optional = {k: from_schema(v) for k, v in properties.items() if k not in required}
    extra = schema.get("additionalProperties")
    base = st.fixed_dictionaries(fixed, optional=optional)
    if isinstance(extra, dict):
        more = st.dictionaries(st.text(max_size=8), from_schema(extra), max_size=2)
        return st.tuples(base, more).map(lambda pair: {**pair[1], **pair[0]})
    if not properties:
        return st.dictionaries(st.text(max_size=8), _ANY_JSON, max_size=3)
    return base


def from_schema(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values valid by ``schema`` (within the subset above)."""
    if "const" in schema:
        return st.just(schema["const"])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    if "oneOf" in schema:
        return st.one_of([from_schema(s) for s in schema["oneOf"]])
    kind = schema.get("type")
    if kind is None:
        return _ANY_JSON
    if isinstance(kind, list):
        return st.one_of([_of_type(k, schema) for k in kind])
    return _of_type(kind, schema)
