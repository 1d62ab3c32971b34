"""metrics.Metrics: the Vault writes the operator made, by phase (issue 5, "Observability")."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from vault_mcp_operator.metrics import Metrics

WRITES = "vaultmcp_operator_vault_writes_total"


def writes(registry: CollectorRegistry, phase: str) -> float | None:
    return registry.get_sample_value(WRITES, {"phase": phase})


def test_both_phases_are_exposed_from_the_start() -> None:
    registry = CollectorRegistry()
    Metrics(registry)
    assert writes(registry, "reconcile") == 0
    assert writes(registry, "removal") == 0


def test_reconciles_and_removals_add_their_writes() -> None:
    registry = CollectorRegistry()
    metrics = Metrics(registry)
    metrics.succeeded("a", vault_writes=6)  # a new agent
    metrics.succeeded("a", vault_writes=0)  # a resync that found nothing to change
    metrics.failed("b", "vault_unavailable")
    metrics.removed(4)

    assert writes(registry, "reconcile") == 6
    assert writes(registry, "removal") == 4
    ok = registry.get_sample_value("vaultmcp_operator_reconciles_total", {"result": "ok"})
    assert ok == 2  # a no-op reconcile is still a reconcile
