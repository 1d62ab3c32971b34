"""names: every name of one VaultAgent, derived from namespace and name only."""

from __future__ import annotations

import pytest

from vault_mcp_operator.config import OperatorSettings
from vault_mcp_operator.names import AgentNames, agent_names
from vault_mcp_sidecar.naming import InvalidName


def test_all_names_of_an_agent(names: AgentNames) -> None:
    assert names.subject == "team-a.alice"
    assert names.policy == names.token_role == names.approle == "mcp-agent-team-a.alice"
    assert names.minter_policy == "mcp-minter-team-a.alice"
    assert names.kv_folder == "mcp/team-a.alice"
    assert names.transit_keys == (("payments", "mcp__team-a.alice__payments"),)
    assert names.transit_key_names == ("mcp__team-a.alice__payments",)
    assert names.credentials_secret == "alice-vault-approle"


def test_settings_change_prefixes(settings: OperatorSettings) -> None:
    custom = settings.model_copy(
        update={"child_token_policy_prefix": "ai-", "minter_policy_prefix": "mint-"}
    )
    names = agent_names("ns", "a", custom)
    assert (names.policy, names.minter_policy) == ("ai-ns.a", "mint-ns.a")


def test_no_agent_can_claim_another_agents_or_minter_names(settings: OperatorSettings) -> None:
    """Agent `x-minter` vs agent `x`; namespace/name shifts like `a`+`b-c` vs `a-b`+`c`."""
    pairs = [("ns", "x"), ("ns", "x-minter"), ("a", "b-c"), ("a-b", "c"), ("mcp-minter", "x")]
    every_name: list[str] = []
    for namespace, name in pairs:
        n = agent_names(namespace, name, settings, ["k"])
        every_name += [n.policy, n.minter_policy, *n.transit_key_names]
    assert len(every_name) == len(set(every_name))


@pytest.mark.parametrize(("namespace", "name"), [("ns", "a.b"), ("ns", "A"), ("n_s", "a")])
def test_names_need_dns_labels(settings: OperatorSettings, namespace: str, name: str) -> None:
    with pytest.raises(InvalidName):
        agent_names(namespace, name, settings)
