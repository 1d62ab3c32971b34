"""The operator killed (SIGKILL) while it deletes agents and applies spec changes (issue 5):
after a restart it converges, and nothing is orphaned — Vault holds exactly the objects of the
VaultAgents that still exist, no more, no fewer, and each matches its current spec.

The real operator (kopf) on the KMock Kubernetes emulator, a real OpenBao, the operator's
least-privilege policy. While it is dead, more agents are deleted and edited, as happens
when its node dies and the cluster goes on. tests/integration/operator/test_kopf_faults.py
kills it mid-*create* (secret_ids issued but never stored, objects edited meanwhile); this
covers the other half: deletions and updates cut short.

Every agent has `deletionPolicy: Delete`, so its KV data and Transit keys must go too. The
kill comes the moment the first deleted agent's policy is gone (removal's first step), with its
roles and 200 secrets still to remove; where exactly it cuts depends on scheduling and is
printed (`-s`). Whatever it cut, the while-dead deletion and edit are always wholly pending.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from devkit.kube import wait_for
from tests.adversarial.faults.conftest import LONG_RUN
from tests.integration.operator.kopf_support import Cluster, running_cluster
from vault_mcp_operator.config import OperatorSettings, load_settings
from vault_mcp_operator.desired import desired_state
from vault_mcp_operator.diff import diff
from vault_mcp_operator.login import login
from vault_mcp_operator.names import AgentNames, agent_names
from vault_mcp_operator.spec import parse_spec
from vault_mcp_operator.vault_admin import VaultAdmin
from vault_mcp_sidecar.naming import transit_keys_prefix

NS = "faults"
ROUNDS = 4 if LONG_RUN else 1
AGENTS = 5  # live before each round
# Secrets of the first agent each round deletes: enough that removing them takes the operator
# a while, so the kill (the moment that removal has begun) tends to land in its middle.
KV_SECRETS = 200
CONVERGE_SECONDS = 60.0  # a guard for the polling below, not a timing assertion


@dataclass
class Fleet:
    """The VaultAgents that should exist, with their current specs."""

    cluster: Cluster
    settings: OperatorSettings
    live: dict[str, dict[str, Any]] = field(default_factory=dict)
    gone: set[str] = field(default_factory=set)
    serial: Iterator[int] = field(default_factory=itertools.count)

    def names(self, name: str) -> AgentNames:
        keys = parse_spec(self.live.get(name, {})).transit.keys
        return agent_names(NS, name, self.settings, keys)

    def create(self) -> str:
        name = f"agent-{next(self.serial)}"
        self.live[name] = {"transit": {"keys": ["k"]}, "deletionPolicy": "Delete"}
        self.cluster.kube.create_agent(NS, name, self.live[name])
        return name

    def delete(self, name: str) -> None:
        del self.live[name]
        self.gone.add(name)
        self.cluster.kube.delete_agent(NS, name)

    def change(self, name: str) -> None:
        """A spec change touching every kind of object: scopes (policy), a new Transit key,
        token TTLs (token role and AppRole)."""
        spec = self.live[name]
        keys = spec["transit"]["keys"]
        spec["transit"] = {"keys": [*keys, f"k{len(keys) + 1}"]}
        spec["scopes"] = ["read", "write", "list"]
        spec["token"] = {"ttl": f"{10 + len(keys)}m", "childTTL": "60s"}
        self.cluster.kube.patch_agent_spec(NS, name, spec)


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    """A dev OpenBao, an emulator and the operator; this test kills the operator."""
    with running_cluster() as running:
        yield running


def test_killed_while_deleting_and_updating_converges_to_exactly_the_live_agents(
    cluster: Cluster,
) -> None:
    fleet = Fleet(cluster, load_settings())
    for _ in range(ROUNDS):
        while len(fleet.live) < AGENTS:
            fleet.create()
        _converge(fleet)
        _crash_round(fleet)
        _converge(fleet)
        _assert_exactly_the_live_agents(fleet)


def _crash_round(fleet: Fleet) -> None:
    """Delete two agents, change one, create one; kill the operator once it has begun removing
    the first; meanwhile delete one more and change another; start it again."""
    cluster = fleet.cluster
    older = sorted(fleet.live, key=lambda n: int(n.split("-")[1]))
    doomed = fleet.names(older[0])
    for i in range(KV_SECRETS):
        cluster.bao.api("POST", f"secret/data/{doomed.kv_folder}/s{i}", {"data": {"n": i}})
    fleet.delete(older[0])
    fleet.delete(older[1])
    fleet.change(older[2])
    fleet.create()
    # Removal starts with the agent's policy (access ends first), then its roles, then its data:
    # kill the moment the policy is gone, with the rest of the removal still to do.
    wait_for(
        lambda: cluster.vault_get(f"sys/policies/acl/{doomed.policy}") is None,
        interval=0.002,
        what="the operator removing the agent",
    )
    cluster.operator.kill()
    left = len(cluster.vault_list(f"secret/metadata/{doomed.kv_folder}"))
    print(f"killed with {left} of {doomed.subject}'s {KV_SECRETS} secrets left to remove")
    fleet.delete(older[3])
    fleet.change(older[4])
    cluster.operator.start()


def _converge(fleet: Fleet) -> None:
    """Deleted agents gone (finalizer released); the others Ready for their current spec,
    with data of their own in KV for the next deletion to remove."""
    cluster = fleet.cluster
    for name in fleet.gone:
        removed = functools.partial(_removed, cluster, name)
        wait_for(removed, timeout=CONVERGE_SECONDS, what=f"{name} removed")
    for name in fleet.live:
        cluster.ready(NS, name, timeout=CONVERGE_SECONDS)
        cluster.bao.api("POST", f"secret/data/{fleet.names(name).kv_folder}/s", {"data": {}})


def _removed(cluster: Cluster, name: str) -> bool:
    return cluster.kube.agent(NS, name) is None


def _assert_exactly_the_live_agents(fleet: Fleet) -> None:
    cluster, settings = fleet.cluster, fleet.settings
    live = [fleet.names(name) for name in fleet.live]
    assert _inventory(cluster, settings) == {
        "policies": {p for n in live for p in (n.policy, n.minter_policy)},
        "token roles": {n.token_role for n in live},
        "approles": {n.approle for n in live},
        "transit keys": {k for n in live for k in n.transit_key_names},
        "kv folders": {f"{n.subject}/" for n in live},
    }
    root = VaultAdmin(
        login(load_settings(vault_addr=cluster.bao.addr, vault_token=cluster.bao.token)), settings
    )
    for name, spec in fleet.live.items():
        names = fleet.names(name)
        desired = desired_state(names, parse_spec(spec), settings)
        assert diff(desired, root.read_actual(names)) == [], name  # matches its current spec
        creds = cluster.credentials(NS, name)
        assert cluster.live_accessors(names.approle) == {creds.accessor}, name  # no stray one
        assert cluster.login(creds)["policies"]  # the Secret holds working credentials
    for name in fleet.gone:
        assert cluster.kube.secret(NS, f"{name}-vault-approle") is None, name


def _inventory(cluster: Cluster, settings: OperatorSettings) -> dict[str, set[str]]:
    """Everything in Vault that carries the operator's names."""
    agent_prefix = settings.child_token_policy_prefix
    prefixes = (agent_prefix, settings.minter_policy_prefix)
    return {
        "policies": {p for p in cluster.vault_list("sys/policies/acl") if p.startswith(prefixes)},
        "token roles": {
            r for r in cluster.vault_list("auth/token/roles") if r.startswith(agent_prefix)
        },
        "approles": {
            r for r in cluster.vault_list("auth/approle/role") if r.startswith(agent_prefix)
        },
        "transit keys": {
            k
            for k in cluster.vault_list("transit/keys")
            if k.startswith(transit_keys_prefix(settings.default_prefix))
        },
        "kv folders": set(cluster.vault_list(f"secret/metadata/{settings.default_prefix}/")),
    }
