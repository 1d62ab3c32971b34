"""Prometheus metrics of one sidecar, served at `GET /metrics` (METRICS_ENABLED).

Every label value comes from a small, fixed set or from an authenticated agent id: route
labels are operation ids (never the raw URL, which holds secret names and is unbounded), Vault
calls are classed into a few operations, and an agent label only ever names a caller that
authenticated. A caller cannot mint new series by sending odd paths or tool names.

The registry is per instance, not prometheus-client's global one, so several apps (tests) in
one process never collide. Counts are plain numbers kept by this object and turned into metric
families only when scraped (a custom collector): prometheus-client's own Counter and Histogram
take a lock and make several calls per increment, measured 2.4 µs per KV read against 0.8 µs
here. That needs no lock because every update and every scrape runs on the one event-loop
thread of the sidecar.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Iterator

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector

__all__ = ["CONTENT_TYPE", "MINT_OUTCOMES", "SidecarMetrics"]

CONTENT_TYPE = CONTENT_TYPE_LATEST
# A sidecar answers in well under a millisecond of its own time; Vault round trips add a
# fraction of a millisecond on loopback and up to the 10 s client timeout when it hangs.
BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
MINT_OUTCOMES = ("ok", "refused", "error", "unavailable")
_BOUNDS = [*(repr(b) for b in BUCKETS), "+Inf"]  # as prometheus-client writes `le`

_RequestKey = tuple[str, str, str, int, str]  # channel, route, method, status, agent


class _Histogram:
    """Observations per bucket (not yet cumulative) and their sum."""

    __slots__ = ("counts", "total")

    def __init__(self) -> None:
        self.counts = [0] * (len(BUCKETS) + 1)  # the last one is +Inf
        self.total = 0.0

    def observe(self, seconds: float) -> None:
        self.counts[bisect_left(BUCKETS, seconds)] += 1
        self.total += seconds

    def cumulative(self) -> list[tuple[str, float]]:
        running, buckets = 0, []
        for bound, count in zip(_BOUNDS, self.counts, strict=True):
            running += count
            buckets.append((bound, float(running)))
        return buckets


class SidecarMetrics:
    """The sidecar's counts, the callbacks that feed them, and their exposition."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self._requests: dict[_RequestKey, list[int]] = {}
        self._durations: dict[tuple[str, str], _Histogram] = {}
        self._transport: dict[tuple[str, int], int] = {}
        self._vault: dict[str, _Histogram] = {}
        self._vault_unavailable: dict[str, int] = {}
        self._mints = dict.fromkeys(MINT_OUTCOMES, 0)
        self._rate_limited: dict[str, int] = {}
        self.registry.register(_Families(self))

    def exposition(self) -> bytes:
        """The text exposition format, for `GET /metrics`."""
        return generate_latest(self.registry)

    def request(
        self, channel: str, route: str, method: str, status: int, agent: str, seconds: float
    ) -> None:
        """One call answered (see `audit.emit`, the one place that calls this)."""
        key = (channel, route, method, status, agent)
        count = self._requests.get(key)
        if count is None:
            count = self._requests[key] = [0]
        count[0] += 1
        duration = self._durations.get((channel, route))
        if duration is None:
            duration = self._durations[(channel, route)] = _Histogram()
        duration.observe(seconds)

    def transport(self, method: str, status: int) -> None:
        key = (method, status)
        self._transport[key] = self._transport.get(key, 0) + 1

    def vault_call(self, operation: str, seconds: float, unavailable: bool) -> None:
        """A `VaultClient` observer: one Vault round trip (or attempt)."""
        histogram = self._vault.get(operation)
        if histogram is None:
            histogram = self._vault[operation] = _Histogram()
        histogram.observe(seconds)
        if unavailable:
            self._vault_unavailable[operation] = self._vault_unavailable.get(operation, 0) + 1

    def token_mint(self, outcome: str) -> None:
        """A `ChildTokenMinter` observer: one of MINT_OUTCOMES (anything else is a bug)."""
        if outcome not in self._mints:
            raise KeyError(outcome)
        self._mints[outcome] += 1

    def rate_limited(self, agent: str) -> None:
        """An `AgentRateLimiter` observer: `agent` was refused with 429."""
        self._rate_limited[agent] = self._rate_limited.get(agent, 0) + 1


class _Families(Collector):
    """The counts of one SidecarMetrics as Prometheus metric families, built per scrape."""

    def __init__(self, metrics: SidecarMetrics) -> None:
        self.m = metrics

    def collect(self) -> Iterator[Metric]:
        m = self.m
        requests = CounterMetricFamily(
            "vaultmcp_sidecar_requests",
            "Calls answered (REST requests and MCP tool calls), by channel, route (operation "
            "id), method, status and agent (empty when no caller authenticated)",
            labels=["channel", "route", "method", "status", "agent"],
        )
        for (channel, route, method, status, agent), cell in list(m._requests.items()):
            requests.add_metric([channel, route, method, str(status), agent], cell[0])
        yield requests
        yield _histograms(
            "vaultmcp_sidecar_request_duration_seconds",
            "Time from a call's arrival to its last response byte, by channel and route",
            ["channel", "route"],
            ((list(key), h) for key, h in list(m._durations.items())),
        )
        transport = CounterMetricFamily(
            "vaultmcp_sidecar_mcp_transport_requests",
            "HTTP requests to /mcp itself (sessions, messages, streams), by method and status",
            labels=["method", "status"],
        )
        for (method, status), calls in list(m._transport.items()):
            transport.add_metric([method, str(status)], calls)
        yield transport
        yield _histograms(
            "vaultmcp_sidecar_vault_request_duration_seconds",
            "Vault API round trips, by operation (kv_read, token_create, login, ...)",
            ["operation"],
            (([operation], h) for operation, h in list(m._vault.items())),
        )
        yield _counter(
            "vaultmcp_sidecar_vault_unavailable",
            "Vault calls that found Vault unreachable, sealed or on standby, by operation",
            "operation",
            m._vault_unavailable,
        )
        yield _counter(
            "vaultmcp_sidecar_token_mints",
            "Child tokens minted (ok) or not (refused, error, unavailable)",
            "outcome",
            m._mints,
        )
        yield _counter(
            "vaultmcp_sidecar_rate_limited",
            "Calls refused with 429 by the per-agent rate limit, by agent",
            "agent",
            m._rate_limited,
        )


def _counter(name: str, documentation: str, label: str, counts: dict[str, int]) -> Metric:
    family = CounterMetricFamily(name, documentation, labels=[label])
    for value, count in list(counts.items()):
        family.add_metric([value], count)
    return family


def _histograms(
    name: str,
    documentation: str,
    labels: list[str],
    histograms: Iterable[tuple[list[str], _Histogram]],
) -> Metric:
    family = HistogramMetricFamily(name, documentation, labels=labels)
    for values, histogram in histograms:
        family.add_metric(values, histogram.cumulative(), histogram.total)
    return family
