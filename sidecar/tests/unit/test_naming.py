"""naming: agent ids, Transit key names (injective, per agent) and the KV v2 layout."""

from __future__ import annotations

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from vault_mcp_sidecar.naming import (
    AGENT_POLICY_PREFIX,
    MINTER_POLICY_PREFIX,
    InvalidName,
    KvLayout,
    agent_id,
    check_policy_prefixes,
    check_prefix,
    check_subject,
    check_transit_key,
    minter_policy_name,
    policy_name,
    transit_key_name,
    transit_key_prefix,
    transit_keys_prefix,
)

# What check_subject / check_transit_key accept, built independently of their regexes, from
# pieces that make collisions likely: the separator "__" and what the escaping produces.
_EDGE = "aUS09"
_INNER = ["a", "U", "S", "0", "_", "__", "_U", "_S", "U_", "-", ".", "--"]
_ends = st.sampled_from(_EDGE)
_middles = st.lists(st.sampled_from(_INNER), max_size=5).map("".join)
subjects = _ends | st.builds(lambda a, b, c: a + b + c, _ends, _middles, _ends)
keys = subjects
_seps = st.sampled_from(["_", "__", "___", "_U", "_S", "_U_", "-", "."])
prefixes = st.sampled_from(["mcp", "m_", "a/b", "mcp_x", "_", "a__b", "x_S", "x_U"])


@pytest.mark.parametrize(
    "subject", ["a", "alice", "team-a.alice", "agent_api", "A9", "a" * 128, "x.y-z_0"]
)
def test_valid_subjects(subject: str) -> None:
    assert check_subject(subject) == subject


@pytest.mark.parametrize(
    "subject",
    [
        "",
        ".",
        "..",
        "-a",
        "a-",
        "_a",
        "a_",
        ".a",
        "a.",
        "a/b",
        "a b",
        "a\\b",
        "a\x00",
        "a\n",
        "caf\u00e9",
        "a" * 129,
        "a*",
    ],
)
def test_invalid_subjects(subject: str) -> None:
    with pytest.raises(InvalidName):
        check_subject(subject)


@pytest.mark.parametrize("key", ["k", "payments", "b-c", "a.b_c", "k" * 64])
def test_valid_transit_keys(key: str) -> None:
    assert check_transit_key(key) == key


@pytest.mark.parametrize("key", ["", "-k", "k-", "_k", "k_", "a/b", "k" * 65, "k*", "k\n"])
def test_invalid_transit_keys(key: str) -> None:
    with pytest.raises(InvalidName):
        check_transit_key(key)


def test_transit_key_name_rejects_invalid_keys() -> None:
    with pytest.raises(InvalidName):
        transit_key_name("mcp", "alice", "../bob")


def test_policy_name() -> None:
    assert policy_name("mcp-agent-", "alice") == "mcp-agent-alice"


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (("a", "b-c"), ("a-b", "c")),
        (("a", "b.c"), ("a.b", "c")),
        (("a", "b_c"), ("a_b", "c")),
        (("a", "b__c"), ("a__b", "c")),
        (("a", "U_b"), ("a_U", "b")),
        (("a", "S_b"), ("a_S", "b")),
        (("a", "U__b"), ("a_U", "b")),
        (("a_U", "b"), ("a", "UU__b")),
        (("a__S", "b"), ("a", "S__b")),
        (("a.b", "c"), ("a", "b.c")),
    ],
)
def test_crafted_pairs_get_distinct_names_and_prefixes(
    first: tuple[str, str], second: tuple[str, str]
) -> None:
    (s1, k1), (s2, k2) = first, second
    n1 = transit_key_name("mcp", s1, k1)
    n2 = transit_key_name("mcp", s2, k2)
    assert n1 != n2
    assert not n2.startswith(transit_key_prefix("mcp", s1))
    assert not n1.startswith(transit_key_prefix("mcp", s2))


def test_crafted_pair_from_the_design() -> None:
    one = transit_key_name("mcp", "a", "b-c")
    two = transit_key_name("mcp", "a-b", "c")
    assert one != two
    assert not two.startswith(transit_key_prefix("mcp", "a"))
    assert not one.startswith(transit_key_prefix("mcp", "a-b"))


def test_transit_key_name_matches_its_prefix() -> None:
    name = transit_key_name("mcp", "team-a.alice", "payments")
    assert name.startswith(transit_key_prefix("mcp", "team-a.alice"))
    assert name == "mcp__team-a.alice__payments"


def test_prefixes_differ_per_prefix() -> None:
    assert transit_key_name("mcp", "a", "k") != transit_key_name("mcp2", "a", "k")
    assert transit_key_name("a/b", "c", "k") != transit_key_name("a", "b", "k")
    assert transit_key_name("a_", "b", "k") != transit_key_name("a", "_b", "k")


@settings(max_examples=500, deadline=None, database=None)
@given(prefixes, subjects, keys, prefixes, subjects, keys)
def test_property_distinct_pairs_distinct_names(
    p1: str, s1: str, k1: str, p2: str, s2: str, k2: str
) -> None:
    assume((p1, s1, k1) != (p2, s2, k2))
    assert transit_key_name(p1, s1, k1) != transit_key_name(p2, s2, k2)


@settings(max_examples=500, deadline=None, database=None)
@given(prefixes, subjects, st.one_of(subjects, st.tuples(subjects, _seps, subjects)), keys)
def test_property_no_agent_matches_another_agents_key_glob(
    prefix: str, s1: str, other: str | tuple[str, str, str], k2: str
) -> None:
    """The policy grants `transit/encrypt/{transit_key_prefix(prefix, s1)}*`: that glob must
    never cover a key of any other subject — in particular not of `s1 + "__" + more`."""
    s2 = other if isinstance(other, str) else "".join(other)
    assume(s1 != s2)
    assert not transit_key_name(prefix, s2, k2).startswith(transit_key_prefix(prefix, s1))
    assert not transit_key_name(prefix, s1, k2).startswith(transit_key_prefix(prefix, s2))


@settings(max_examples=500, deadline=None, database=None)
@given(prefixes, subjects, _seps, subjects, keys)
def test_property_shifting_the_boundary_changes_the_name(
    prefix: str, subject: str, sep: str, middle: str, key: str
) -> None:
    """(s + sep + m, k) and (s, m + sep + k): the crafted-pair shape, for every separator."""
    one = transit_key_name(prefix, subject + sep + middle, key)
    two = transit_key_name(prefix, subject, middle + sep + key)
    assert one != two
    assert not one.startswith(transit_key_prefix(prefix, subject))
    assert not two.startswith(transit_key_prefix(prefix, subject + sep + middle))


@settings(max_examples=200, deadline=None, database=None)
@given(subjects)
def test_property_generated_subjects_are_valid(subject: str) -> None:
    assert check_subject(subject) == subject


def test_kv_layout_paths() -> None:
    kv = KvLayout("secret", "mcp")
    assert kv.folder("alice") == "mcp/alice"
    assert kv.data("alice", "app/db") == "secret/data/mcp/alice/app/db"
    assert kv.metadata("alice", "app/db") == "secret/metadata/mcp/alice/app/db"
    assert kv.metadata("alice", "app/") == "secret/metadata/mcp/alice/app"
    assert kv.metadata("alice", "") == "secret/metadata/mcp/alice"
    assert kv.versions_op("destroy", "alice", "x") == "secret/destroy/mcp/alice/x"
    assert kv.versions_op("undelete", "alice", "x") == "secret/undelete/mcp/alice/x"


def test_kv_layout_nested_mount_and_prefix() -> None:
    kv = KvLayout("kv/team", "agents/v1")
    assert kv.data("bob", "k") == "kv/team/data/agents/v1/bob/k"


@pytest.mark.parametrize("prefix", ["mcp", "a/b", "x.y-z"])
def test_check_prefix_accepts_segments(prefix: str) -> None:
    assert check_prefix(prefix) == prefix


@pytest.mark.parametrize("prefix", ["", "/mcp", "mcp/", "..", "a//b", "a b"])
def test_check_prefix_refuses_unsafe(prefix: str) -> None:
    with pytest.raises(InvalidName):
        check_prefix(prefix)


# -- Kubernetes agent ids and the operator's policy names --------------------------------------


@pytest.mark.parametrize(
    ("namespace", "name", "subject"),
    [("team-a", "alice", "team-a.alice"), ("default", "x", "default.x"), ("a" * 63, "b", None)],
)
def test_agent_id(namespace: str, name: str, subject: str | None) -> None:
    assert agent_id(namespace, name) == (subject or f"{namespace}.{name}")


@pytest.mark.parametrize(
    ("namespace", "name"),
    [
        ("team-a", "a.b"),  # a dot would make "{ns}.{name}" ambiguous
        ("team.a", "b"),
        ("team-a", "Alice"),
        ("team-a", "agent_api"),
        ("team-a", "-a"),
        ("team-a", ""),
        ("", "a"),
        ("team-a", "a" * 64),
        ("team-a", "a/b"),
    ],
)
def test_agent_id_refuses_non_dns_labels(namespace: str, name: str) -> None:
    with pytest.raises(InvalidName):
        agent_id(namespace, name)


def test_agent_ids_are_unambiguous() -> None:
    """No two (namespace, name) pairs share an id: both are dot-free labels."""
    pairs = [("a", "b-c"), ("a-b", "c"), ("ab", "c"), ("a", "bc")]
    assert len({agent_id(ns, name) for ns, name in pairs}) == len(pairs)


def test_minter_policy_never_equals_an_agent_policy() -> None:
    """Agent `ns.x-minter` vs the minter of `ns.x`, and every other crafted pair."""
    subjects = ["ns.x", "ns.x-minter", "ns.minter-x", "minter-ns.x", "ns.agent-x", "agent-ns.x"]
    agent_policies = {policy_name(AGENT_POLICY_PREFIX, s) for s in subjects}
    minter_policies = {minter_policy_name(s) for s in subjects}
    assert not agent_policies & minter_policies
    assert minter_policy_name("ns.x") == "mcp-minter-ns.x"


@settings(max_examples=300, deadline=None, database=None)
@given(subjects, subjects)
def test_property_policy_name_spaces_are_disjoint(s1: str, s2: str) -> None:
    assert policy_name(AGENT_POLICY_PREFIX, s1) != minter_policy_name(s2)


@pytest.mark.parametrize(
    ("agent", "minter"),
    [
        ("mcp-", "mcp-minter-"),
        ("mcp-agent-", "mcp-agent-"),
        ("mcp-agent-m", "mcp-agent-"),
        ("", "x"),
    ],
)
def test_overlapping_policy_prefixes_refused(agent: str, minter: str) -> None:
    with pytest.raises(InvalidName):
        check_policy_prefixes(agent, minter)


def test_default_prefixes_are_disjoint() -> None:
    check_policy_prefixes(AGENT_POLICY_PREFIX, MINTER_POLICY_PREFIX)


@settings(max_examples=200, deadline=None, database=None)
@given(prefixes, subjects, keys)
def test_property_every_agent_key_is_under_the_operators_glob(
    prefix: str, subject: str, key: str
) -> None:
    assert transit_key_name(prefix, subject, key).startswith(transit_keys_prefix(prefix))
