"""The operator through faults: Vault going away and coming back, the operator killed in the
middle of its work. Each test has its own Vault, emulator and operator, since it breaks them."""

from __future__ import annotations

import functools
from collections.abc import Iterator

import pytest

from devkit.kube import condition, wait_for
from tests.integration.operator.kopf_support import Cluster, running_cluster
from vault_mcp_operator.config import load_settings
from vault_mcp_operator.names import AgentNames, agent_names


@pytest.fixture
def raft_cluster() -> Iterator[Cluster]:
    """OpenBao with raft storage, so a stop/start keeps the agents' Vault objects."""
    with running_cluster(dev=False) as cluster:
        yield cluster


@pytest.fixture
def dev_cluster() -> Iterator[Cluster]:
    with running_cluster() as cluster:
        yield cluster


def test_vault_down_is_reported_and_recovered_from(raft_cluster: Cluster) -> None:
    cluster = raft_cluster
    for name in ("alice", "bob"):
        cluster.kube.create_agent("team-a", name, {})
        cluster.ready("team-a", name)
    bob = agent_names("team-a", "bob", load_settings())

    cluster.bao.stop()
    message = cluster.not_ready("team-a", "alice", "VaultUnavailable")
    assert "unavailable" in message.lower()
    wait_for(
        lambda: "VaultUnavailable" in cluster.kube.event_reasons("team-a", "alice"),
        what="VaultUnavailable event",
    )
    # A delete while Vault is down waits: the finalizer stays until access is really ended.
    cluster.kube.delete_agent("team-a", "bob")
    wait_for(
        lambda: "VaultUnavailable" in cluster.kube.event_reasons("team-a", "bob"),
        what="bob's removal reported as waiting for Vault",
    )
    assert cluster.kube.agent("team-a", "bob") is not None
    assert cluster.operator.running  # reported, not crashed

    cluster.bao.start()  # same port, same raft data, unsealed again
    cluster.ready("team-a", "alice")
    wait_for(lambda: cluster.kube.agent("team-a", "bob") is None, what="bob removed")
    assert cluster.vault_get(f"sys/policies/acl/{bob.policy}") is None
    wait_for(lambda: "Ready" in cluster.kube.event_reasons("team-a", "alice"), what="Ready event")
    assert cluster.login(cluster.credentials("team-a", "alice"))["policies"]
    assert 'vaultmcp_operator_errors_total{reason="vault_unavailable"}' in (
        cluster.operator.metrics()
    )


def test_operator_killed_mid_reconcile_converges_after_restart(dev_cluster: Cluster) -> None:
    cluster = dev_cluster
    agents = [f"agent-{i}" for i in range(6)]
    for name in agents:
        cluster.kube.create_agent("team-b", name, {"transit": {"keys": ["k"]}})
    # SIGKILL as soon as one agent is Ready: the others are mid-way (or not begun).
    done = wait_for(lambda: _first_ready(cluster, agents), interval=0.01, what="one agent Ready")
    cluster.operator.kill()

    settings = load_settings()
    first = agent_names("team-b", done, settings)
    # What a crash can also leave behind: a secret_id issued but never stored in the Secret,
    # and a Vault object edited while no operator was watching.
    orphan = cluster.bao.api("POST", f"auth/approle/role/{first.approle}/secret-id", {})
    cluster.bao.write_policy(first.policy, 'path "sys/*" { capabilities = ["sudo"] }')

    cluster.operator.start()
    for name in agents:
        cluster.ready("team-b", name)
        names = agent_names("team-b", name, settings)
        # Converged: the one secret_id alive in Vault is the one in the Secret, and it works.
        converged = functools.partial(_only_stored_secret_id_alive, cluster, names)
        wait_for(converged, what=f"{name} converged")
        creds = cluster.credentials("team-b", name)
        assert set(cluster.login(creds)["policies"]) == {names.policy, names.minter_policy}
    assert orphan["data"]["secret_id_accessor"] not in cluster.live_accessors(first.approle)
    wait_for(lambda: "sudo" not in _policy(cluster, first.policy), what="policy restored")


def _only_stored_secret_id_alive(cluster: Cluster, names: AgentNames) -> bool:
    accessor = cluster.credentials(names.namespace, names.name).accessor
    return cluster.live_accessors(names.approle) == {accessor}


def _policy(cluster: Cluster, name: str) -> str:
    body = cluster.vault_get(f"sys/policies/acl/{name}")
    return "" if body is None else str(body["data"]["policy"])


def _first_ready(cluster: Cluster, agents: list[str]) -> str | None:
    for name in agents:
        if condition(cluster.kube.agent("team-b", name)).get("status") == "True":
            return name
    return None
