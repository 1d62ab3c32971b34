"""Prometheus metrics of the operator, served by `run --metrics-port`.

One `Metrics` object per process, kept in kopf's memo. A registry can be passed in so that
tests (and several operators in one process) do not share the global one.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram

# Reconciles are Vault round trips (a handful of GETs, a few writes when something changed).
_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Metrics:
    def __init__(self, registry: CollectorRegistry = REGISTRY) -> None:
        self.reconciles = Counter(
            "vaultmcp_operator_reconciles",
            "VaultAgent reconciles, by result (ok, or the failure reason)",
            ["result"],
            registry=registry,
        )
        self.errors = Counter(
            "vaultmcp_operator_errors",
            "Failed reconciles and removals, by reason",
            ["reason"],
            registry=registry,
        )
        self.duration = Histogram(
            "vaultmcp_operator_reconcile_duration_seconds",
            "Time one reconcile of one VaultAgent took",
            buckets=_BUCKETS,
            registry=registry,
        )
        self.vault_writes = Counter(
            "vaultmcp_operator_vault_writes",
            "Writes the operator made to Vault (policies, roles, keys, secret_ids; none for an "
            "unchanged agent), by phase: reconcile or removal",
            ["phase"],
            registry=registry,
        )
        for phase in ("reconcile", "removal"):
            self.vault_writes.labels(phase=phase)
        self.agents = Gauge(
            "vaultmcp_operator_agents",
            "VaultAgents known to this operator, by state",
            ["state"],
            registry=registry,
        )
        self._states = AgentStates()
        for state in ("ready", "not_ready"):
            self.agents.labels(state=state).set(0)

    @contextmanager
    def timed(self) -> Iterator[None]:
        with self.duration.time():
            yield

    def succeeded(self, uid: str, vault_writes: int = 0) -> None:
        self.reconciles.labels(result="ok").inc()
        self.vault_writes.labels(phase="reconcile").inc(vault_writes)
        self._set(uid, ready=True)

    def removed(self, vault_writes: int) -> None:
        self.vault_writes.labels(phase="removal").inc(vault_writes)

    def failed(self, uid: str, reason: str) -> None:
        self.reconciles.labels(result=reason).inc()
        self.errors.labels(reason=reason).inc()
        self._set(uid, ready=False)

    def removal_failed(self, reason: str) -> None:
        self.errors.labels(reason=reason).inc()

    def forget(self, uid: str) -> None:
        self._states.forget(uid)
        self._publish()

    def _set(self, uid: str, ready: bool) -> None:
        self._states.set(uid, ready)
        self._publish()

    def _publish(self) -> None:
        ready, not_ready = self._states.counts()
        self.agents.labels(state="ready").set(ready)
        self.agents.labels(state="not_ready").set(not_ready)


class AgentStates:
    """Ready or not, per VaultAgent uid; handlers run in threads, hence the lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ready: dict[str, bool] = {}

    def set(self, uid: str, ready: bool) -> None:
        with self._lock:
            self._ready[uid] = ready

    def forget(self, uid: str) -> None:
        with self._lock:
            self._ready.pop(uid, None)

    def counts(self) -> tuple[int, int]:
        with self._lock:
            ready = sum(self._ready.values())
            return ready, len(self._ready) - ready
