"""`run --namespace NS`: the operator serves the namespaces it is given and no other."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from devkit.kube import wait_for
from tests.integration.operator.kopf_support import Cluster, running_cluster


@pytest.fixture
def team_a_operator() -> Iterator[Cluster]:
    with running_cluster(namespaces=("team-a",)) as cluster:
        yield cluster


def test_only_the_given_namespace_is_served(team_a_operator: Cluster) -> None:
    cluster = team_a_operator
    cluster.kube.create_agent("team-b", "alice", {})
    cluster.kube.create_agent("team-a", "alice", {})
    cluster.ready("team-a", "alice")
    # Once team-a's agent has been resynced twice, team-b's has long had its chance.
    resynced = "[team-a/alice] Timer 'resync' succeeded"
    wait_for(lambda: cluster.operator.logs().count(resynced) >= 2, what="two resyncs")

    other = cluster.kube.agent("team-b", "alice")
    assert other is not None
    assert "finalizers" not in other["metadata"]
    assert "status" not in other
    assert cluster.kube.secret("team-b", "alice-vault-approle") is None
    assert cluster.vault_get("sys/policies/acl/mcp-agent-team-b.alice") is None
