"""desired: the Vault objects of one agent, exactly DESIGN §3, in Vault's read shape."""

from __future__ import annotations

import pytest

from vault_mcp_operator.config import OperatorSettings
from vault_mcp_operator.desired import desired_state
from vault_mcp_operator.names import AgentNames
from vault_mcp_operator.spec import SpecError, parse_spec
from vault_mcp_sidecar.policy import agent_policy_hcl, minter_policy_hcl
from vault_mcp_sidecar.scopes import Scope

SPEC = parse_spec(
    {
        "scopes": ["read", "write"],
        "transit": {"keys": ["payments"]},
        "token": {"ttl": "20m", "maxTTL": "2h", "childTTL": "60s", "childNumUses": 3},
        "secretID": {"ttl": "12h"},
    }
)


def test_policies(names: AgentNames, settings: OperatorSettings) -> None:
    desired = desired_state(names, SPEC, settings)
    assert desired.policies == (
        (
            "mcp-agent-team-a.alice",
            agent_policy_hcl(
                "team-a.alice", scopes=[Scope.READ, Scope.WRITE], transit_keys=["payments"]
            ),
        ),
        ("mcp-minter-team-a.alice", minter_policy_hcl(["mcp-agent-team-a.alice"])),
    )
    minter = desired.policy_text("mcp-minter-team-a.alice")
    assert 'path "auth/token/create/mcp-agent-team-a.alice"' in minter
    assert minter.count('path "') == 3  # mint through the role, renew-self, lookup-self


def test_token_role(names: AgentNames, settings: OperatorSettings) -> None:
    name, params = desired_state(names, SPEC, settings).token_role
    assert name == "mcp-agent-team-a.alice"
    assert params == {
        "allowed_policies": ["mcp-agent-team-a.alice"],
        "allowed_policies_glob": [],
        "orphan": False,
        "renewable": False,
        "token_explicit_max_ttl": 60,
        "token_no_default_policy": True,
        "token_type": "service",
        "token_num_uses": 3,
        "token_period": 0,
        "token_bound_cidrs": [],
    }


def test_batch_children_need_a_default_batch_role(
    names: AgentNames, settings: OperatorSettings
) -> None:
    # Vault refuses a non-orphan role of type "batch": "default-batch" is the only way to
    # batch children that still die with the sidecar's login token.
    spec = parse_spec({"token": {"childType": "batch"}})
    _, params = desired_state(names, spec, settings).token_role
    assert (params["token_type"], params["orphan"], params["token_num_uses"]) == (
        "default-batch",
        False,
        0,
    )


def test_batch_children_cannot_carry_num_uses() -> None:
    with pytest.raises(SpecError, match=r"^spec\.token\.childNumUses: batch child tokens"):
        parse_spec({"token": {"childType": "batch", "childNumUses": 2}})


def test_approle(names: AgentNames, settings: OperatorSettings) -> None:
    name, params = desired_state(names, SPEC, settings).approle
    assert name == "mcp-agent-team-a.alice"
    assert params["token_policies"] == ["mcp-agent-team-a.alice", "mcp-minter-team-a.alice"]
    # Vault refuses children of batch or use-limited parents.
    assert (params["token_type"], params["token_num_uses"]) == ("service", 0)
    assert (params["token_ttl"], params["token_max_ttl"], params["secret_id_ttl"]) == (
        1200,
        7200,
        43200,
    )
    assert params["token_no_default_policy"] is True
    assert (params["token_period"], params["token_explicit_max_ttl"]) == (0, 0)


def test_bound_cidrs_bind_parent_children_and_secret_id(settings: OperatorSettings) -> None:
    from vault_mcp_operator.names import agent_names

    spec = parse_spec({"token": {"boundCIDRs": ["10.1.0.0/16"]}})
    desired = desired_state(agent_names("ns", "a", settings), spec, settings)
    assert desired.token_role[1]["token_bound_cidrs"] == ["10.1.0.0/16"]
    assert desired.approle[1]["token_bound_cidrs"] == ["10.1.0.0/16"]
    assert desired.approle[1]["secret_id_bound_cidrs"] == ["10.1.0.0/16"]


def test_transit_keys(names: AgentNames, settings: OperatorSettings) -> None:
    assert desired_state(names, SPEC, settings).transit_keys == ("mcp__team-a.alice__payments",)


def test_pure(names: AgentNames, settings: OperatorSettings) -> None:
    assert desired_state(names, SPEC, settings) == desired_state(names, SPEC, settings)
