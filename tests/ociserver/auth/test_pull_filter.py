"""``may_pull``, the one-regex predicate that listings use, says exactly what ``allowed`` says."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from registry.ociserver.auth.access_model import ANONYMOUS, AccessRule, AuthConfig, glob_to_regex
from registry.ociserver.auth.authenticator import Authenticator, Identity

_parts = st.sampled_from(["a", "b", "team", "x-1", "*", "**"])
_globs = st.lists(_parts, min_size=1, max_size=3).map("/".join)
_repos = st.lists(st.sampled_from(["a", "b", "team", "x-1", "zz"]), min_size=1, max_size=4).map("/".join)
_identities = st.sampled_from(["alice", "bob", ANONYMOUS])
_rules = st.lists(
    st.builds(
        lambda glob, users, actions: AccessRule(glob_to_regex(glob), frozenset(users), frozenset(actions)),
        _globs,
        st.sets(st.sampled_from(["alice", "bob", "*", ANONYMOUS]), min_size=1),
        st.sets(st.sampled_from(["pull", "push", "delete"]), min_size=1),
    ),
    max_size=4,
)


def _config(rules: list[AccessRule], anonymous_pull: bool) -> AuthConfig:
    return AuthConfig(
        users={"alice": "$2b$x", "bob": "$2b$x"},
        tokens={},
        rules=tuple(rules),
        anonymous_pull=anonymous_pull,
        token_secret=b"s" * 32,
        token_ttl=60,
        realm="r",
        bearer=True,
    )


@given(_rules, st.booleans(), _identities, st.lists(_repos, max_size=8))
def test_may_pull_agrees_with_allowed(
    rules: list[AccessRule], anonymous_pull: bool, identity: str, repos: list[str]
) -> None:
    config = _config(rules, anonymous_pull)
    may_pull = config.may_pull(identity)
    for repo in repos:
        assert may_pull(repo) == ("pull" in config.allowed(identity, repo)), (identity, repo)


@given(_rules, _identities, st.dictionaries(_repos, st.sets(st.sampled_from(["pull", "push"]))), _repos)
def test_a_tokens_scopes_narrow_may_pull_as_they_narrow_allowed(
    rules: list[AccessRule], name: str, scopes: dict[str, set[str]], repo: str
) -> None:
    auth = Authenticator(_config(rules, False))
    try:
        identity = Identity(name, {r: frozenset(a) for r, a in scopes.items()})
        assert auth.may_pull(identity)(repo) == ("pull" in auth.allowed(identity, repo))
    finally:
        auth.close()
