"""The one name grammar: model names and OCI repository names, tags and references share their parts."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from registry.errors import InvalidDigest, InvalidName, InvalidTag
from registry.oci.digest import Digest
from registry.oci.name import (
    MAX_TAG_LENGTH,
    ModelName,
    Reference,
    parse_reference,
    validate_repo,
    validate_tag,
)

_tag_text = st.text(alphabet="aZ09_.-:/\n ", min_size=1, max_size=90)


def _valid(check: object, *args: object) -> bool:
    try:
        check(*args)  # type: ignore[operator]
    except (InvalidName, InvalidTag):
        return False
    return True


@given(_tag_text)
def test_a_model_tag_is_an_oci_tag_of_at_most_80_characters(tag: str) -> None:
    as_model_tag = _valid(ModelName, "registry.ollama.ai", "library", "m", tag)
    assert as_model_tag == (_valid(validate_tag, tag) and len(tag) <= 80)


def test_tag_length_limit_is_the_oci_one() -> None:
    assert validate_tag("a" * MAX_TAG_LENGTH)
    with pytest.raises(InvalidTag):
        validate_tag("a" * (MAX_TAG_LENGTH + 1))


@pytest.mark.parametrize("name", ["a", "library/llama3.2", "a__b/c-d/e.f", "x" * 255])
def test_repository_names(name: str) -> None:
    assert validate_repo(name) == name


@pytest.mark.parametrize("name", ["", "A", "a/", "/a", "a//b", "a..b", "a\n", "x" * 256, "a/../b"])
def test_bad_repository_names(name: str) -> None:
    with pytest.raises(InvalidName):
        validate_repo(name)


def test_a_reference_is_a_tag_or_an_oci_digest() -> None:
    assert parse_reference("v1") == Reference(tag="v1")
    assert parse_reference("sha512:" + "ab" * 64) == Reference(digest=Digest("ab" * 64, "sha512"))
    assert str(parse_reference("sha256:" + "ab" * 32)) == "sha256:" + "ab" * 32
    assert parse_reference("sha256-" + "ab" * 32).digest is None  # the file spelling is a tag here
    with pytest.raises(InvalidDigest):
        parse_reference("sha256:" + "ab" * 31)
    with pytest.raises(InvalidTag):
        parse_reference("v1\n")
