"""diff: only managed fields count; Vault's extra fields and spellings cause no write."""

from __future__ import annotations

from typing import Any

import pytest

from vault_mcp_operator.config import OperatorSettings
from vault_mcp_operator.desired import desired_state
from vault_mcp_operator.diff import diff, differing_fields
from vault_mcp_operator.names import AgentNames
from vault_mcp_operator.spec import parse_spec
from vault_mcp_operator.state import ActualState, Change, ChangeKind, DesiredState

SPEC = parse_spec({"transit": {"keys": ["k"]}, "token": {"boundCIDRs": ["127.0.0.1/32"]}})

# What OpenBao answers on read besides the managed fields (seen on a real server).
TOKEN_ROLE_EXTRAS: dict[str, Any] = {
    "allowed_entity_aliases": None,
    "disallowed_policies": [],
    "disallowed_policies_glob": [],
    "explicit_max_ttl": 0,
    "name": "x",
    "path_suffix": "",
    "period": 0,
}
APPROLE_EXTRAS: dict[str, Any] = {"local_secret_ids": False, "token_strictly_bind_ip": False}


@pytest.fixture
def desired(names: AgentNames, settings: OperatorSettings) -> DesiredState:
    return desired_state(names, SPEC, settings)


def in_sync(desired: DesiredState) -> ActualState:
    """What Vault answers after a faithful apply: extra fields, zero fields left out,
    /32 spelled as a bare address on token roles."""
    role = {**desired.token_role[1], **TOKEN_ROLE_EXTRAS, "token_bound_cidrs": ["127.0.0.1"]}
    del role["token_num_uses"]  # left out when 0
    return ActualState(
        policies=dict(desired.policies),
        token_role=role,
        approle={**desired.approle[1], **APPROLE_EXTRAS},
        transit_keys=frozenset(desired.transit_keys),
    )


def test_in_sync_means_no_change(desired: DesiredState) -> None:
    assert diff(desired, in_sync(desired)) == []


def test_nothing_exists_means_everything_in_order(desired: DesiredState) -> None:
    changes = diff(desired, ActualState())
    assert [c.kind for c in changes] == [
        ChangeKind.POLICY,
        ChangeKind.POLICY,
        ChangeKind.TOKEN_ROLE,
        ChangeKind.APPROLE,
        ChangeKind.TRANSIT_KEY,
    ]
    assert all(c.reason == "missing" for c in changes)
    assert ActualState().empty
    assert not in_sync(desired).empty


def test_policy_text_change(desired: DesiredState, names: AgentNames) -> None:
    actual = in_sync(desired)
    policies = {**actual.policies, names.policy: "# edited by hand"}
    changed = ActualState(policies, actual.token_role, actual.approle, actual.transit_keys)
    assert diff(desired, changed) == [Change(ChangeKind.POLICY, names.policy, "text differs")]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("allowed_policies", ["mcp-agent-team-a.alice", "root"]),
        ("allowed_policies_glob", ["*"]),
        ("renewable", True),
        ("orphan", True),
        ("token_explicit_max_ttl", 3600),
        ("token_type", "batch"),
        ("token_num_uses", 2),
        ("token_period", 60),
        ("token_bound_cidrs", ["0.0.0.0/0"]),
    ],
)
def test_token_role_drift_is_found(desired: DesiredState, field: str, value: object) -> None:
    actual = in_sync(desired)
    assert actual.token_role is not None
    role = {**actual.token_role, field: value}
    drifted = ActualState(actual.policies, role, actual.approle, actual.transit_keys)
    [change] = diff(desired, drifted)
    assert (change.kind, change.reason) == (ChangeKind.TOKEN_ROLE, f"differs: {field}")


def test_unmanaged_fields_never_count(desired: DesiredState) -> None:
    actual = in_sync(desired)
    assert actual.token_role is not None
    assert actual.approle is not None
    role = {**actual.token_role, "path_suffix": "x", "explicit_max_ttl": 5, "new_field": 1}
    approle = {**actual.approle, "local_secret_ids": True, "token_strictly_bind_ip": True}
    assert diff(desired, ActualState(actual.policies, role, approle, actual.transit_keys)) == []


def test_order_of_policy_lists_and_cidr_spelling_do_not_count() -> None:
    desired = {"token_policies": ["a", "b"], "token_bound_cidrs": ["10.0.0.1/32", "fd00::/8"]}
    actual = {"token_policies": ["b", "a"], "token_bound_cidrs": ["fd00::/8", "10.0.0.1"]}
    assert differing_fields(desired, actual) == []


def test_null_lists_are_empty() -> None:
    assert differing_fields({"token_bound_cidrs": []}, {"token_bound_cidrs": None}) == []


def test_approle_drift_and_missing_key(desired: DesiredState, names: AgentNames) -> None:
    actual = in_sync(desired)
    assert actual.approle is not None
    approle = {**actual.approle, "token_num_uses": 1, "token_ttl": 1}
    drifted = ActualState(actual.policies, actual.token_role, approle, frozenset())
    assert diff(desired, drifted) == [
        Change(ChangeKind.APPROLE, names.approle, "differs: token_num_uses, token_ttl"),
        Change(ChangeKind.TRANSIT_KEY, names.transit_key_names[0], "missing"),
    ]
