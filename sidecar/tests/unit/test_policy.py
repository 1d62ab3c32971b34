"""policy.agent_policy_hcl: exactly the DESIGN §3 grants, and nothing of anyone else's."""

from __future__ import annotations

import re

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from vault_mcp_sidecar.naming import InvalidName, transit_key_name, transit_key_prefix
from vault_mcp_sidecar.policy import agent_policy_hcl, fleet_minter_policy_hcl
from vault_mcp_sidecar.scopes import Scope

_RULE = re.compile(r'path "([^"]*)" \{\s*capabilities = \[([^\]]*)\]\s*\}')
_KV_OPS = ("data", "metadata", "delete", "undelete", "destroy")
_EDGE = "abz09"
subjects = st.sampled_from(_EDGE) | st.builds(
    lambda a, b, c: a + b + c,
    st.sampled_from(_EDGE),
    st.text(alphabet="ab09._-", max_size=6),
    st.sampled_from(_EDGE),
)


def parse_policy(hcl: str) -> dict[str, set[str]]:
    """{path: capabilities}; fails if anything but comments and path rules is in the text."""
    rules: dict[str, set[str]] = {}
    for match in _RULE.finditer(hcl):
        path, caps = match.group(1), match.group(2)
        assert path not in rules, f"duplicate rule for {path}"
        rules[path] = {c.strip().strip('"') for c in caps.split(",") if c.strip()}
    rest = _RULE.sub("", hcl)
    leftover = [line for line in rest.splitlines() if line.strip() and not line.startswith("#")]
    assert leftover == [], f"unparsed policy text: {leftover}"
    return rules


def glob_matches(pattern: str, path: str) -> bool:
    """Vault ACL matching for the patterns we generate: a trailing `*` is a prefix match."""
    assert "+" not in pattern
    if pattern.endswith("*"):
        return path.startswith(pattern[:-1])
    return path == pattern


def expected(subject: str, mount: str, prefix: str, transit: str) -> dict[str, set[str]]:
    folder = f"{prefix}/{subject}"
    keys = transit_key_prefix(prefix, subject)
    return {
        f"{mount}/data/{folder}/*": {"create", "read", "update", "delete", "list"},
        f"{mount}/metadata/{folder}": {"read", "list"},
        f"{mount}/metadata/{folder}/*": {"read", "list"},
        f"{mount}/delete/{folder}/*": {"update"},
        f"{mount}/undelete/{folder}/*": {"update"},
        f"{mount}/destroy/{folder}/*": {"update"},
        f"{transit}/encrypt/{keys}*": {"create", "update"},
        f"{transit}/decrypt/{keys}*": {"update"},
    }


def test_default_policy_grants_exactly_the_design_paths() -> None:
    rules = parse_policy(agent_policy_hcl("alice"))
    assert rules == expected("alice", "secret", "mcp", "transit")
    assert rules["transit/encrypt/mcp__alice__*"] == {"create", "update"}


def test_custom_mounts_and_prefix() -> None:
    hcl = agent_policy_hcl("team-a.alice", mount="kv", prefix="agents/v1", transit_mount="tr")
    assert parse_policy(hcl) == expected("team-a.alice", "kv", "agents/v1", "tr")


@pytest.mark.parametrize("subject", ["alice", "team-a.alice", "a_b", "x"])
def test_no_sudo_no_deny_no_root_paths(subject: str) -> None:
    rules = parse_policy(agent_policy_hcl(subject))
    for path, caps in rules.items():
        assert caps <= {"create", "read", "update", "delete", "list"}, path
        assert path.startswith(tuple(f"secret/{op}/mcp/{subject}" for op in _KV_OPS)) or (
            path.startswith(("transit/encrypt/", "transit/decrypt/"))
            and path.endswith(transit_key_prefix("mcp", subject) + "*")
        ), path
        assert "+" not in path
        assert "*" not in path[:-1]


def test_no_grant_on_transit_key_management() -> None:
    rules = parse_policy(agent_policy_hcl("alice"))
    assert not any(p.startswith("transit/keys") for p in rules)
    assert not any(p.startswith(("sys/", "auth/")) for p in rules)


@pytest.mark.parametrize(
    "subject",
    ["", "..", "../bob", "a/b", "*", "a*", 'a" {} path "*', "alice\n", "a+b", "-a"],
)
def test_invalid_agent_rejected(subject: str) -> None:
    with pytest.raises(InvalidName):
        agent_policy_hcl(subject)


@pytest.mark.parametrize(
    "overrides",
    [
        {"prefix": 'mcp" {}\npath "*" {\n  capabilities = ["sudo"]\n}\n#'},
        {"prefix": "*"},
        {"prefix": ""},
        {"prefix": "../x"},
        {"mount": "secret/+"},
        {"mount": ""},
        {"transit_mount": "transit/*"},
        {"transit_mount": "a b"},
    ],
)
def test_unsafe_mounts_and_prefixes_rejected(overrides: dict[str, str]) -> None:
    with pytest.raises(InvalidName):
        agent_policy_hcl(
            "alice",
            mount=overrides.get("mount", "secret"),
            prefix=overrides.get("prefix", "mcp"),
            transit_mount=overrides.get("transit_mount", "transit"),
        )


@settings(max_examples=300, deadline=None, database=None)
@given(subjects, subjects, st.text(alphabet="ab09-.", min_size=1, max_size=6))
def test_property_policy_never_covers_another_agents_paths(s1: str, s2: str, rel: str) -> None:
    assume(s1 != s2)
    assume(rel not in (".", ".."))
    rules = parse_policy(agent_policy_hcl(s1))
    theirs = [
        f"secret/data/mcp/{s2}/{rel}",
        f"secret/data/mcp/{s2}",
        f"secret/metadata/mcp/{s2}",
        f"secret/metadata/mcp/{s2}/{rel}",
        f"secret/delete/mcp/{s2}/{rel}",
        f"secret/undelete/mcp/{s2}/{rel}",
        f"secret/destroy/mcp/{s2}/{rel}",
        f"transit/encrypt/{transit_key_name('mcp', s2, 'k' + rel.strip('.-') + 'k')}",
        f"transit/decrypt/{transit_key_name('mcp', s2, 'k' + rel.strip('.-') + 'k')}",
    ]
    for pattern in rules:
        for path in theirs:
            assert not glob_matches(pattern, path), (pattern, path)


@settings(max_examples=100, deadline=None, database=None)
@given(subjects)
def test_property_policy_covers_own_paths(subject: str) -> None:
    rules = parse_policy(agent_policy_hcl(subject))
    own = {
        f"secret/data/mcp/{subject}/app/db": "read",
        f"secret/metadata/mcp/{subject}": "list",
        f"secret/destroy/mcp/{subject}/app/db": "update",
        f"transit/encrypt/{transit_key_name('mcp', subject, 'payments')}": "update",
        f"transit/decrypt/{transit_key_name('mcp', subject, 'payments')}": "update",
    }
    for path, capability in own.items():
        assert any(glob_matches(p, path) and capability in c for p, c in rules.items()), path


# -- Narrowed by scopes and explicit Transit keys (the operator's VaultAgent spec) -------------


def test_read_list_scopes_grant_no_writes() -> None:
    rules = parse_policy(agent_policy_hcl("ns.a", scopes=[Scope.READ, Scope.LIST]))
    assert rules == {
        "secret/data/mcp/ns.a/*": {"read", "list"},
        "secret/metadata/mcp/ns.a": {"read", "list"},
        "secret/metadata/mcp/ns.a/*": {"read", "list"},
        f"transit/decrypt/{transit_key_prefix('mcp', 'ns.a')}*": {"update"},
    }


@pytest.mark.parametrize(
    ("scope", "granted"),
    [
        (Scope.READ, {"data": {"read"}, "metadata": {"read"}, "decrypt": {"update"}}),
        (Scope.LIST, {"data": {"list"}, "metadata": {"list"}}),
        (
            Scope.WRITE,
            {
                "data": {"create", "update"},
                "undelete": {"update"},
                "destroy": {"update"},
                "encrypt": {"create", "update"},
            },
        ),
        (Scope.DELETE, {"data": {"delete"}, "delete": {"update"}}),
    ],
)
def test_each_scope_maps_to_its_capabilities(scope: Scope, granted: dict[str, set[str]]) -> None:
    rules = parse_policy(agent_policy_hcl("a", scopes=[scope]))
    by_op = {path.split("/")[1]: caps for path, caps in rules.items()}
    assert by_op == granted


def test_all_scopes_is_the_default_policy() -> None:
    assert agent_policy_hcl("a", scopes=list(Scope)) == agent_policy_hcl("a")


def test_explicit_transit_keys_are_granted_exactly_and_never_created() -> None:
    rules = parse_policy(agent_policy_hcl("ns.a", transit_keys=["payments", "b-c"]))
    transit = {p: c for p, c in rules.items() if p.startswith("transit/")}
    names = [transit_key_name("mcp", "ns.a", k) for k in ("payments", "b-c")]
    assert transit == {
        **{f"transit/encrypt/{n}": {"update"} for n in names},
        **{f"transit/decrypt/{n}": {"update"} for n in names},
    }
    assert not any("*" in path for path in transit)


def test_no_transit_keys_no_transit_grant() -> None:
    rules = parse_policy(agent_policy_hcl("ns.a", transit_keys=[]))
    assert not any(path.startswith("transit/") for path in rules)


def test_explicit_keys_of_crafted_pairs_never_cross() -> None:
    """Subject `a` + key `b-c` against subject `a-b` + key `c` (DESIGN §3)."""
    mine = parse_policy(agent_policy_hcl("a", transit_keys=["b-c"]))
    theirs = transit_key_name("mcp", "a-b", "c")
    assert not any(glob_matches(p, f"transit/encrypt/{theirs}") for p in mine)


def test_fleet_minter_policy_is_one_glob_over_the_agent_roles() -> None:
    hcl = fleet_minter_policy_hcl("mcp-agent-")
    assert 'path "auth/token/create/mcp-agent-*" {' in hcl
    assert hcl.count('path "') == 3  # the glob, renew-self, lookup-self: nothing else
    assert 'path "auth/token/create" ' not in hcl  # no free mint outside the roles


@pytest.mark.parametrize("prefix", ["", "../x-", "mcp agent-", "a/../b-"])
def test_fleet_minter_policy_refuses_unsafe_prefixes(prefix: str) -> None:
    with pytest.raises(InvalidName):
        fleet_minter_policy_hcl(prefix)
