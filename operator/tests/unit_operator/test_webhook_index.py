"""The webhook's VaultAgent index: what it keeps of an agent, and how the handler reads it."""

from __future__ import annotations

from typing import Any, cast

import kopf

from vault_mcp_operator.webhook import _indexed_agent, index_agent

AGENT: dict[str, Any] = {
    "metadata": {"name": "alice", "namespace": "team-a", "managedFields": [{"big": "x"}]},
    "spec": {"scopes": ["read"], "auth": {"apiKeys": {"secretRef": {"name": "keys"}}}},
    "status": {"conditions": [{"type": "Ready", "status": "True"}]},
}


def test_the_index_keeps_a_copy_of_spec_and_status_by_namespace_and_name() -> None:
    raw = {**AGENT, "spec": dict(AGENT["spec"])}
    indexed = index_agent(namespace="team-a", name="alice", body=kopf.Body(cast(Any, raw)))
    assert indexed == {("team-a", "alice"): {"spec": AGENT["spec"], "status": AGENT["status"]}}
    raw["spec"]["scopes"] = ["write"]  # kopf's body changes under it; the index must not
    assert indexed[("team-a", "alice")]["spec"]["scopes"] == ["read"]


def test_the_handler_finds_an_indexed_agent_or_none() -> None:
    value = {"spec": AGENT["spec"], "status": AGENT["status"]}
    index = {("team-a", "alice"): [value]}
    assert _indexed_agent(index, "team-a", "alice") == value
    assert _indexed_agent(index, "team-b", "alice") is None
    assert _indexed_agent(index, "team-a", "bob") is None
    assert _indexed_agent(None, "team-a", "alice") is None  # no index (webhook without watch)
    assert _indexed_agent({("team-a", "alice"): []}, "team-a", "alice") is None
