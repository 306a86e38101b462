"""The sign-in session value: signed, expiring, bound to its secret, and never a Bearer token."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from registry.ociserver.web.sessions import SessionSigner

SECRET = b"0123456789abcdef0123456789abcdef"


def test_a_session_names_its_user_until_it_expires() -> None:
    signer = SessionSigner(SECRET, ttl=60)
    value = signer.issue("alice", now=1000.0)
    assert signer.user(value, now=1059.0) == "alice"
    assert signer.user(value, now=1061.0) is None
    assert SessionSigner(b"another secret", ttl=60).user(value, now=1000.0) is None


def test_a_changed_value_is_refused() -> None:
    signer = SessionSigner(SECRET, ttl=60)
    body, _, signature = signer.issue("alice", now=1000.0).partition(".")
    other_body = signer.issue("bob", now=1000.0).partition(".")[0]
    assert signer.user(f"{other_body}.{signature}", now=1000.0) is None
    assert signer.user(body, now=1000.0) is None
    assert signer.user(f"{body}.", now=1000.0) is None


@given(st.text(max_size=300))
def test_garbage_is_no_session(value: str) -> None:
    assert SessionSigner(SECRET, ttl=60).user(value) is None
