"""Property tests for the small parsers of the transfer code."""

from __future__ import annotations

from itertools import pairwise

from hypothesis import given
from hypothesis import strategies as st

from registry.oci.challenge import parse_challenges
from registry.remote.download_parts import Part, parts_from_state, plan_parts
from registry.remote.upload import upload_range_end

_token = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789_.-", min_size=1, max_size=12)
_value = st.text(alphabet=st.characters(blacklist_categories=["Cs", "Cc"]), max_size=40)


@given(st.dictionaries(_token, _value, min_size=1, max_size=5))
def test_challenge_round_trip(params: dict[str, str]) -> None:
    quoted = ",".join(
        f'{k}="{v.replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}"'
        for k, v in params.items()
    )
    (challenge,) = parse_challenges(f"Bearer {quoted}")
    assert challenge.scheme == "bearer"
    assert challenge.params == {k.lower(): v for k, v in params.items()}


@given(st.text(max_size=200))
def test_challenge_parser_never_crashes(header: str) -> None:
    for challenge in parse_challenges(header):
        assert challenge.scheme


@given(st.integers(0, 1 << 40), st.integers(1, 1 << 30))
def test_parts_cover_the_blob(size: int, part_size: int) -> None:
    parts = plan_parts(size, max(part_size, size // 10000 + 1))
    assert sum(p.size for p in parts) == size
    assert all(a.end == b.start for a, b in pairwise(parts))
    state = {"boot_id": "other", "parts": [[p.start, p.size, p.size // 2, p.size // 3] for p in parts]}
    rebuilt = parts_from_state(state, size)
    assert rebuilt == [
        Part(p.start, p.size, p.size // 3, p.size // 3) for p in parts
    ]  # another boot: durable only


@given(st.integers(0, 1 << 40))
def test_range_header(n: int) -> None:
    assert upload_range_end(f"0-{n}") == (0 if n == 0 else n + 1)
    assert upload_range_end(None) == 0
    assert upload_range_end("garbage") == -1
