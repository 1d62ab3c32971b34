"""metrics.py and the handlers' pure parts: counters, the agents gauge, retry backoff."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry

from vault_mcp_operator.handlers import HandlerOptions, _metric_label
from vault_mcp_operator.metrics import Metrics
from vault_mcp_operator.status import Reason


def value(registry: CollectorRegistry, name: str, **labels: str) -> float:
    sample = registry.get_sample_value(name, labels)
    return 0.0 if sample is None else sample


def test_reconciles_errors_and_agent_states() -> None:
    registry = CollectorRegistry()
    metrics = Metrics(registry)
    with metrics.timed():
        metrics.succeeded("a")
    metrics.succeeded("b")
    metrics.failed("b", "vault_unavailable")

    assert value(registry, "vaultmcp_operator_reconciles_total", result="ok") == 2
    assert value(registry, "vaultmcp_operator_reconciles_total", result="vault_unavailable") == 1
    assert value(registry, "vaultmcp_operator_errors_total", reason="vault_unavailable") == 1
    assert value(registry, "vaultmcp_operator_reconcile_duration_seconds_count") == 1
    assert value(registry, "vaultmcp_operator_agents", state="ready") == 1
    assert value(registry, "vaultmcp_operator_agents", state="not_ready") == 1

    metrics.forget("b")
    assert value(registry, "vaultmcp_operator_agents", state="not_ready") == 0


def test_reasons_become_snake_case_labels() -> None:
    assert _metric_label(Reason.VAULT_UNAVAILABLE) == "vault_unavailable"
    assert _metric_label(Reason.INVALID_SPEC) == "invalid_spec"


def test_backoff_doubles_up_to_the_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RETRY_BASE_SECONDS", "5")
    monkeypatch.setenv("RETRY_MAX_SECONDS", "60")
    options = HandlerOptions()
    assert [options.backoff(n) for n in range(6)] == [5, 10, 20, 40, 60, 60]
    assert options.backoff(10_000) == 60  # no overflow for a long outage


def test_options_refuse_nonsense(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECONCILE_INTERVAL_SECONDS", "0")
    with pytest.raises(ValueError, match="reconcile_interval_seconds"):
        HandlerOptions()
