"""Pure rendering of benchmark results: the terminal report, a README table and a JSON record."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from bench.results import (
    DIRECT,
    TargetResult,
    Verdict,
    WrkRun,
    added_p50_ms,
    ordered,
    ratio,
)


@dataclass(frozen=True, slots=True)
class RunInfo:
    """How the numbers were produced; printed with them because they mean nothing without it."""

    connections: int
    threads: int
    rounds: int
    duration_s: float
    cpus: int
    wrk_version: str
    bao_version: str
    workload: str
    load_before: float  # 1-minute load average before the servers started: others' noise
    sidecar_source: str  # which sidecar code was measured: commit, and whether edits were on top

    def describe(self) -> str:
        return (
            f"{self.workload}\n"
            f"{self.wrk_version}; {self.connections} connections / {self.threads} threads and "
            f"1 connection / 1 thread; {self.rounds} round(s) x {self.duration_s:g} s per target, "
            f"interleaved; medians across rounds\n"
            f"{self.bao_version}; {self.cpus} CPU(s) shared by load generator and servers; "
            f"load average before start {self.load_before:.2f}\n"
            f"sidecar source: {self.sidecar_source}"
        )


_HEADER = f"{'target':<40} {'req/s':>8} {'(min-max)':>15} {'p50 ms':>7} {'p99 ms':>7} {'ratio':>6}"


def text_report(
    info: RunInfo,
    results: Mapping[str, TargetResult],
    rss_mib: Mapping[str, float],
    found: Sequence[Verdict],
) -> str:
    """The full terminal report: table, one-connection latency, RSS, verdicts."""
    lines = [info.describe(), "", _HEADER, "-" * len(_HEADER)]
    lines += [_text_row(result, ratio(results, result.key)) for result in ordered(results)]
    lines += ["", _single_connection_line(results), _rss_line(rss_mib), ""]
    lines.append("Targets (reported, never asserted):")
    lines += [f"  {v.word}  {v.check:<48} {v.value}" for v in found]
    return "\n".join(lines)


def _text_row(result: TargetResult, vs_direct: float) -> str:
    low, high = result.rps_spread
    spread = f"({low:.0f}-{high:.0f})"
    return (
        f"{result.label:<40} {result.rps:>8.0f} {spread:>15} "
        f"{result.p50_ms:>7.2f} {result.p99_ms:>7.2f} {vs_direct:>6.2f}"
    )


def _single_connection_line(results: Mapping[str, TargetResult]) -> str:
    base = results[DIRECT].single_p50_ms
    added = [
        f"{result.key} {added_p50_ms(results, result.key):+.3f} ms"
        for result in ordered(results)
        if result.key != DIRECT
    ]
    return f"p50 at 1 connection: direct {base:.3f} ms; added: " + ", ".join(added)


def _rss_line(rss_mib: Mapping[str, float]) -> str:
    return "Sidecar RSS after load: " + ", ".join(f"{k} {v:.1f} MiB" for k, v in rss_mib.items())


def markdown_table(results: Mapping[str, TargetResult], rss_mib: Mapping[str, float]) -> str:
    """A table to paste into the README; RSS goes into the sidecar rows it belongs to."""
    rows = [
        "| target | req/s | p50 ms | p99 ms | vs direct | added p50 @ 1 conn | RSS |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for result in ordered(results):
        added = "—" if result.key == DIRECT else f"{added_p50_ms(results, result.key):+.3f} ms"
        rss = f"{rss_mib[result.key]:.0f} MiB" if result.key in rss_mib else "—"
        rows.append(
            f"| {result.label} | {result.rps:.0f} | {result.p50_ms:.2f} | {result.p99_ms:.2f} "
            f"| {ratio(results, result.key):.2f} | {added} | {rss} |"
        )
    return "\n".join(rows)


def json_record(
    info: RunInfo,
    results: Mapping[str, TargetResult],
    rss_mib: Mapping[str, float],
    found: Sequence[Verdict],
) -> dict[str, Any]:
    """Everything, raw runs included, so a later reader can recompute any summary."""
    return {
        "run": asdict(info),
        "targets": {r.key: _target_record(results, r) for r in ordered(results)},
        "rss_mib": dict(rss_mib),
        "verdicts": [{"check": v.check, "value": v.value, "passed": v.passed} for v in found],
    }


def _target_record(results: Mapping[str, TargetResult], result: TargetResult) -> dict[str, Any]:
    return {
        "label": result.label,
        "rps": result.rps,
        "p50_ms": result.p50_ms,
        "p99_ms": result.p99_ms,
        "ratio_to_direct": ratio(results, result.key),
        "single_connection_p50_ms": result.single_p50_ms,
        "added_p50_ms": added_p50_ms(results, result.key),
        "runs": [_run_record(run) for run in result.loaded],
        "single_connection_runs": [_run_record(run) for run in result.single],
    }


def _run_record(run: WrkRun) -> dict[str, Any]:
    return {
        "requests": run.requests,
        "duration_s": run.duration_s,
        "rps": run.rps,
        "p50_ms": run.p50_ms,
        "p90_ms": run.p90_ms,
        "p99_ms": run.p99_ms,
        "errors": dict(run.errors),
    }
