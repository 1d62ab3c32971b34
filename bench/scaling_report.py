"""Pure results of the scaling bench: rows per agent count, their Markdown tables and JSON.

No I/O: bench/scaling_sidecar.py and bench/scaling_operator.py measure, bench/plot.py draws
from the JSON this module writes, so the table and the plot always show the same numbers.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

MAX_CONVERGE_S = 60.0  # the issue: 1,000 agents converge in <= 60 s
MAX_RSS_MIB = 96.0  # the sidecar RSS bound; reported for the operator too, for scale

# Sidecar targets of the scaling run, in table order.
DIRECT = "direct"
REUSE = "reuse"
CHILD = "child"
SIDECAR_TARGETS = {
    DIRECT: "direct OpenBao",
    REUSE: "sidecar, token reuse",
    CHILD: "sidecar, child token per request",
}


@dataclass(frozen=True, slots=True)
class SidecarPoint:
    """One agent count on one sidecar: req/s per target (every round), RSS per sidecar."""

    agents: int
    rps: Mapping[str, Sequence[float]]  # target -> req/s of each round
    rss_idle_mib: Mapping[str, float]  # sidecar target -> RSS after start, before load
    rss_mib: Mapping[str, float]  # sidecar target -> RSS after load

    def median_rps(self, target: str) -> float:
        return statistics.median(self.rps[target])

    def ratio(self, target: str) -> float:
        return self.median_rps(target) / self.median_rps(DIRECT)


@dataclass(frozen=True, slots=True)
class OperatorPoint:
    """One agent count through the kopf operator on the emulator."""

    agents: int
    converge_s: float  # first VaultAgent created -> all Ready for their generation
    rss_mib: float  # operator process after convergence
    cpu_s: float  # operator process CPU (user + system) until convergence
    vault_writes: int  # during convergence
    vault_reads: int
    resynced: int  # reconciles counted after convergence, while watching for writes
    resync_writes: int  # Vault writes during those resyncs: must be 0
    resync_write_paths: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.agents / self.converge_s if self.converge_s else 0.0


def sidecar_table(points: Sequence[SidecarPoint]) -> str:
    """Throughput and memory of one sidecar serving 1..N agents; ratios at the same N."""
    present = [t for t in (REUSE, CHILD) if points and t in points[0].rps]
    head = ["agents", "direct req/s"]
    head += [f"{SIDECAR_TARGETS[t]} req/s (vs direct)" for t in present]
    head += [f"RSS {SIDECAR_TARGETS[t].removeprefix('sidecar, ')} idle → after" for t in present]
    rows = ["| " + " | ".join(head) + " |", "|" + "---:|" * len(head)]
    for point in points:
        cells = [f"{point.agents:,}", f"{point.median_rps(DIRECT):.0f}"]
        cells += [f"{point.median_rps(t):.0f} ({point.ratio(t):.2f})" for t in present]
        cells += [f"{point.rss_idle_mib[t]:.0f} → {point.rss_mib[t]:.0f} MiB" for t in present]
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def operator_table(points: Sequence[OperatorPoint]) -> str:
    """Converge time, rate, memory and Vault traffic of the operator at 1..N agents."""
    rows = [
        "| VaultAgents | converge | agents/s | operator RSS | operator CPU | Vault writes/agent "
        "| reads/agent | resyncs watched | writes on resync |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for p in points:
        rows.append(
            f"| {p.agents:,} | {p.converge_s:.1f} s | {p.rate:.0f} | {p.rss_mib:.0f} MiB "
            f"| {p.cpu_s:.1f} s | {p.vault_writes / p.agents:.1f} | {p.vault_reads / p.agents:.1f} "
            f"| {p.resynced:,} | **{p.resync_writes}** |"
        )
    return "\n".join(rows)


def operator_verdicts(points: Sequence[OperatorPoint]) -> list[str]:
    """`PASS`/`MISS` lines for the issue's operator targets, on the largest count measured."""
    if not points:
        return []
    largest = max(points, key=lambda p: p.agents)
    converge = "PASS" if largest.converge_s <= MAX_CONVERGE_S else "MISS"
    writes = sum(p.resync_writes for p in points)
    watched = sum(p.resynced for p in points)
    resync = "PASS" if writes == 0 and watched > 0 else "MISS"
    return [
        f"{converge}  {largest.agents:,} VaultAgents converge <= {MAX_CONVERGE_S:g} s: "
        f"{largest.converge_s:.1f} s",
        f"{resync}  0 Vault writes on resync: {writes} writes in {watched:,} resyncs",
    ]


def record(
    infos: Mapping[str, Mapping[str, Any]],
    sidecar: Sequence[SidecarPoint],
    operator: Sequence[OperatorPoint],
    previous: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The JSON record; a half not measured this time (`--part`) is kept from `previous`,
    with the description of the run that measured it."""
    old = dict(previous or {})
    old_runs = old.get("runs", {})
    halves: dict[str, Sequence[SidecarPoint | OperatorPoint]] = {
        "sidecar": sidecar,
        "operator": operator,
    }
    result: dict[str, Any] = {"runs": {}}
    for name, points in halves.items():
        if points:
            result["runs"][name] = dict(infos.get(name, {}))
            result[name] = [asdict(point) for point in points]
        elif old.get(name):
            result["runs"][name] = old_runs.get(name, {})
            result[name] = old[name]
        else:
            result[name] = []
    return result


def from_record(raw: Mapping[str, Any]) -> tuple[list[SidecarPoint], list[OperatorPoint]]:
    """The points back from a JSON record (bench/plot.py redraws from .bench/scaling.json)."""
    sidecar = [SidecarPoint(**point) for point in raw.get("sidecar", [])]
    operator = [OperatorPoint(**point) for point in raw.get("operator", [])]
    return sidecar, operator
