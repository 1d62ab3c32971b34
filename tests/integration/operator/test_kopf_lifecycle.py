"""The operator for real: kopf against the KMock emulator and a real OpenBao.

Every test drives a VaultAgent through the Kubernetes API and checks both sides: the agent's
status and Events, and what Vault holds (read back as root), down to an AppRole login with the
credentials from the Secret. The operator runs under its shipped least-privilege policy.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from typing import Any

import pytest

from devkit.kube import condition, wait_for
from tests.integration.operator.kopf_support import OPERATOR_POLICY, Cluster, Credentials
from vault_mcp_operator.config import load_settings
from vault_mcp_operator.desired import desired_state
from vault_mcp_operator.names import AgentNames, agent_names
from vault_mcp_operator.spec import parse_spec


def names_of(ns: str, name: str, keys: tuple[str, ...] = ()) -> AgentNames:
    return agent_names(ns, name, load_settings(), keys)


def expected_policy(ns: str, name: str, spec: dict[str, Any]) -> str:
    parsed = parse_spec(spec)
    names = names_of(ns, name, parsed.transit.keys)
    return desired_state(names, parsed, load_settings()).policy_text(names.policy)


def policy_text(cluster: Cluster, policy: str) -> str | None:
    body = cluster.vault_get(f"sys/policies/acl/{policy}")
    return None if body is None else str(body["data"]["policy"])


def test_create_makes_agent_ready_with_working_credentials(
    cluster: Cluster,
    ns: str,
) -> None:
    spec = {"scopes": ["read", "write"], "transit": {"keys": ["payments"]}}
    cluster.kube.create_agent(ns, "alice", spec)
    status = cluster.ready(ns, "alice")["status"]
    names = names_of(ns, "alice", ("payments",))

    assert status["agentId"] == f"{ns}.alice"
    assert status["policy"] == status["role"] == names.policy
    assert status["credentialsSecret"] == "alice-vault-approle"
    assert status["observedGeneration"] == 1
    assert policy_text(cluster, names.policy) == expected_policy(ns, "alice", spec)
    assert cluster.vault_get(f"auth/token/roles/{names.token_role}") is not None
    assert cluster.vault_get(f"transit/keys/{names.transit_key_names[0]}") is not None

    creds = cluster.credentials(ns, "alice")
    auth = cluster.login(creds)
    assert set(auth["policies"]) == {names.policy, names.minter_policy}
    assert cluster.live_accessors(names.approle) == {creds.accessor}
    wanted = {"Created", "SecretIdIssued"}
    wait_for(
        lambda: wanted <= set(cluster.kube.event_reasons(ns, "alice")),
        what="Created and SecretIdIssued events",
    )


def test_credentials_secret_is_owned_labelled_and_keeps_bookkeeping_apart(
    cluster: Cluster,
    ns: str,
) -> None:
    created = cluster.kube.create_agent(ns, "bob", {})
    cluster.ready(ns, "bob")
    secret = cluster.credentials(ns, "bob").secret
    meta = secret["metadata"]

    assert set(secret["data"]) == {"role_id", "secret_id"}  # what a pod mounts, nothing else
    assert meta["labels"]["app.kubernetes.io/managed-by"] == "vault-mcp-operator"
    assert meta["ownerReferences"] == [
        {
            "apiVersion": "vaultmcp.dev/v1alpha1",
            "kind": "VaultAgent",
            "name": "bob",
            "uid": created["metadata"]["uid"],
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    assert {"vaultmcp.dev/secret-id-accessor", "vaultmcp.dev/secret-id-expires-at"} <= set(
        meta["annotations"]
    )


def test_scopes_change_updates_the_policy(cluster: Cluster, ns: str) -> None:
    cluster.kube.create_agent(ns, "carol", {"scopes": ["read"]})
    cluster.ready(ns, "carol")
    policy = names_of(ns, "carol").policy
    read_only = policy_text(cluster, policy)

    wider = {"scopes": ["read", "write", "delete"]}
    cluster.kube.patch_agent_spec(ns, "carol", wider)
    agent = cluster.ready(ns, "carol")

    assert agent["status"]["observedGeneration"] == 2
    assert policy_text(cluster, policy) == expected_policy(ns, "carol", wider) != read_only
    assert "Updated" in cluster.kube.event_reasons(ns, "carol")


def test_policy_tampered_in_vault_is_restored_by_the_timer(
    cluster: Cluster,
    ns: str,
) -> None:
    cluster.kube.create_agent(ns, "dave", {})
    cluster.ready(ns, "dave")
    policy = names_of(ns, "dave").policy
    original = policy_text(cluster, policy)

    cluster.bao.write_policy(policy, 'path "secret/*" { capabilities = ["sudo", "read"] }')
    wait_for(lambda: policy_text(cluster, policy) == original, what="policy restored")
    wait_for(
        lambda: "DriftRepaired" in cluster.kube.event_reasons(ns, "dave"),
        what="DriftRepaired event",
    )


def test_secret_id_is_rotated_and_the_old_one_destroyed_after_grace(
    cluster: Cluster,
    ns: str,
) -> None:
    # 20 s secret_ids, rotated once 80 % of the TTL passed (FAST_TIMING): every 4 s.
    cluster.kube.create_agent(ns, "erin", {"secretID": {"ttl": "20s"}})
    cluster.ready(ns, "erin")
    role = names_of(ns, "erin").approle
    first = cluster.credentials(ns, "erin")

    def renewed() -> Credentials | None:
        current = cluster.credentials(ns, "erin")
        return current if current.accessor != first.accessor else None

    rotated = wait_for(renewed, what="a new secret_id in the Secret")
    assert rotated.secret_id != first.secret_id
    assert cluster.login(rotated)["policies"]
    wait_for(
        lambda: first.accessor not in cluster.live_accessors(role),
        what="the replaced secret_id destroyed after the grace period",
    )
    with pytest.raises(urllib.error.HTTPError):
        cluster.login(first)
    assert "SecretIdRotated" in cluster.kube.event_reasons(ns, "erin")


def test_delete_removes_vault_objects_and_data_then_releases_the_finalizer(
    cluster: Cluster,
    ns: str,
) -> None:
    spec = {"transit": {"keys": ["k1"]}, "deletionPolicy": "Delete"}
    cluster.kube.create_agent(ns, "frank", spec)
    cluster.ready(ns, "frank")
    names = names_of(ns, "frank", ("k1",))
    creds = cluster.credentials(ns, "frank")
    data_path = f"secret/data/mcp/{names.subject}/notes"
    cluster.bao.api("POST", data_path, {"data": {"k": "v"}})
    agent = cluster.kube.agent(ns, "frank")
    assert agent is not None
    assert "vaultmcp.dev/finalizer" in agent["metadata"]["finalizers"]

    cluster.kube.delete_agent(ns, "frank")
    wait_for(lambda: cluster.kube.agent(ns, "frank") is None, what="finalizer released")

    for path in (
        f"sys/policies/acl/{names.policy}",
        f"sys/policies/acl/{names.minter_policy}",
        f"auth/token/roles/{names.token_role}",
        f"auth/approle/role/{names.approle}",
        f"transit/keys/{names.transit_key_names[0]}",
        f"secret/metadata/mcp/{names.subject}/notes",
    ):
        assert cluster.vault_get(path) is None, path
    assert cluster.kube.secret(ns, "frank-vault-approle") is None
    with pytest.raises(urllib.error.HTTPError):
        cluster.login(creds)


def test_delete_with_retain_keeps_the_data_but_ends_access(
    cluster: Cluster,
    ns: str,
) -> None:
    cluster.kube.create_agent(ns, "gina", {})
    cluster.ready(ns, "gina")
    names = names_of(ns, "gina")
    cluster.bao.api("POST", f"secret/data/mcp/{names.subject}/keep", {"data": {"k": "v"}})

    cluster.kube.delete_agent(ns, "gina")
    wait_for(lambda: cluster.kube.agent(ns, "gina") is None, what="finalizer released")

    assert cluster.vault_get(f"sys/policies/acl/{names.policy}") is None
    assert cluster.vault_get(f"secret/data/mcp/{names.subject}/keep") is not None


def test_same_name_in_two_namespaces_stays_isolated(cluster: Cluster) -> None:
    for ns in ("iso-a", "iso-b"):
        cluster.kube.create_agent(ns, "agent", {"scopes": ["read", "write"]})
    a, b = (cluster.ready(ns, "agent")["status"] for ns in ("iso-a", "iso-b"))
    assert a["agentId"] != b["agentId"]
    assert a["policy"] != b["policy"]

    creds_a, creds_b = (cluster.credentials(ns, "agent") for ns in ("iso-a", "iso-b"))
    assert creds_a.role_id != creds_b.role_id
    token_a = cluster.login(creds_a)["client_token"]
    cluster.bao.api("POST", "secret/data/mcp/iso-a.agent/x", {"data": {"v": 1}}, token=token_a)
    with pytest.raises(urllib.error.HTTPError) as denied:
        cluster.bao.api("POST", "secret/data/mcp/iso-b.agent/x", {"data": {"v": 1}}, token=token_a)
    assert denied.value.code == 403


def test_spec_only_the_operator_can_judge_is_reported_then_fixed(
    cluster: Cluster,
    ns: str,
) -> None:
    # Passes the CRD schema (each duration is well-formed), fails the cross-field rule.
    cluster.kube.create_agent(ns, "hank", {"token": {"ttl": "2h", "maxTTL": "1h"}})
    message = cluster.not_ready(ns, "hank", "InvalidSpec")
    assert "spec.token.ttl" in message
    assert cluster.vault_get(f"sys/policies/acl/{names_of(ns, 'hank').policy}") is None
    wait_for(
        lambda: "InvalidSpec" in cluster.kube.event_reasons(ns, "hank"),
        what="InvalidSpec event",
    )

    cluster.kube.patch_agent_spec(ns, "hank", {"token": {"ttl": "30m", "maxTTL": "1h"}})
    cluster.ready(ns, "hank")


def test_operator_runs_under_its_shipped_least_privilege_policy(
    cluster: Cluster,
) -> None:
    token = cluster.operator.env["VAULT_TOKEN"]
    lookup = cluster.bao.api("GET", "auth/token/lookup-self", token=token)["data"]
    assert lookup["policies"] == [OPERATOR_POLICY]
    with pytest.raises(urllib.error.HTTPError) as denied:
        cluster.bao.api("GET", "sys/auth", token=token)
    assert denied.value.code == 403


def test_liveness_and_metrics_are_served(cluster: Cluster, ns: str) -> None:
    cluster.kube.create_agent(ns, "ivy", {})
    cluster.ready(ns, "ivy")
    with urllib.request.urlopen(cluster.operator.liveness_url, timeout=5) as resp:  # noqa: S310
        assert resp.status == 200
    metrics = cluster.operator.metrics()
    assert 'vaultmcp_operator_reconciles_total{result="ok"}' in metrics
    assert "vaultmcp_operator_reconcile_duration_seconds_bucket" in metrics
    assert 'vaultmcp_operator_agents{state="ready"}' in metrics
    # ivy's creation wrote its policy, roles and secret_id into Vault.
    (reconcile_writes,) = [
        float(line.rsplit(" ", 1)[1])
        for line in metrics.splitlines()
        if line.startswith('vaultmcp_operator_vault_writes_total{phase="reconcile"}')
    ]
    assert reconcile_writes > 0


def test_resync_of_an_unchanged_agent_writes_nothing(
    cluster: Cluster,
    ns: str,
) -> None:
    cluster.kube.create_agent(ns, "jill", {})
    cluster.ready(ns, "jill")
    resynced = f"[{ns}/jill] Timer 'resync' succeeded"
    wait_for(lambda: cluster.operator.logs().count(resynced) >= 1, what="a first resync")
    agent = cluster.kube.agent(ns, "jill")
    secret = cluster.credentials(ns, "jill").secret
    assert agent is not None

    seen = cluster.operator.logs().count(resynced)
    wait_for(lambda: cluster.operator.logs().count(resynced) >= seen + 3, what="three resyncs")

    # Neither the agent (status included) nor its Secret was written again.
    after = cluster.kube.agent(ns, "jill")
    assert after is not None
    assert after["metadata"]["resourceVersion"] == agent["metadata"]["resourceVersion"]
    assert condition(after) == condition(agent)
    secret_after = cluster.credentials(ns, "jill").secret
    assert secret_after["metadata"]["resourceVersion"] == secret["metadata"]["resourceVersion"]
