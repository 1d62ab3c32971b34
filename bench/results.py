"""Pure benchmark arithmetic: wrk's report line to numbers, rounds to medians, medians to verdicts.

No I/O here, so every number the bench prints can be checked from a captured wrk line.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# The things loaded, in the order they run within a round (see bench/run.py).
DIRECT = "direct"
AGENT = "agent"
SIDECAR = "sidecar"
CACHE = "sidecar-cache"
AUDIT = "sidecar-audit"
CHILD = "sidecar-child"
BATCH = "sidecar-batch"

# The targets from the issue; reported, never asserted (a slow laptop is not a failed build).
MIN_SIDECAR_RATIO = 0.50
MIN_CHILD_RATIO = 0.25
MIN_CACHE_RATIO = 1.5
MAX_ADDED_P50_MS = 0.5
MAX_RSS_MIB = 96.0

MARKER = "BENCH_JSON "  # printed by bench/report.lua's done()
_ERROR_KINDS = ("connect", "read", "write", "status", "timeout")


class WrkOutputError(ValueError):
    """wrk's output lacks the report line: the Lua script did not run or wrk died early."""


@dataclass(frozen=True, slots=True)
class WrkRun:
    """One wrk run, as reported by bench/report.lua."""

    requests: int
    duration_s: float
    errors: Mapping[str, int]
    p50_ms: float
    p90_ms: float
    p99_ms: float

    @property
    def rps(self) -> float:
        return self.requests / self.duration_s if self.duration_s > 0 else 0.0

    @property
    def error_count(self) -> int:
        """Socket errors, timeouts and non-2xx/3xx answers: any of them voids the run."""
        return sum(self.errors.values())

    def error_summary(self) -> str:
        """`status=12, timeout=1`: which errors, for the message that stops the bench."""
        return ", ".join(f"{kind}={n}" for kind, n in self.errors.items() if n)


def parse_wrk(stdout: str) -> WrkRun:
    """The WrkRun in wrk's stdout; raises WrkOutputError when the report line is missing."""
    for line in stdout.splitlines():
        if line.startswith(MARKER):
            return _run_from_json(json.loads(line[len(MARKER) :]))
    raise WrkOutputError("no BENCH_JSON line in wrk output:\n" + stdout[-2000:])


def _run_from_json(raw: Mapping[str, Any]) -> WrkRun:
    latency = raw["latency_us"]
    return WrkRun(
        requests=int(raw["requests"]),
        duration_s=raw["duration_us"] / 1e6,
        errors={kind: int(raw["errors"][kind]) for kind in _ERROR_KINDS},
        p50_ms=latency["p50"] / 1000,
        p90_ms=latency["p90"] / 1000,
        p99_ms=latency["p99"] / 1000,
    )


@dataclass(frozen=True, slots=True)
class TargetResult:
    """Every counted run of one target: `loaded` at N connections, `single` at one."""

    key: str
    label: str
    loaded: tuple[WrkRun, ...]
    single: tuple[WrkRun, ...]

    # Medians across rounds: one noisy round (a GC pause, a neighbour) does not move them.
    @property
    def rps(self) -> float:
        return statistics.median(run.rps for run in self.loaded)

    @property
    def rps_spread(self) -> tuple[float, float]:
        rates = [run.rps for run in self.loaded]
        return min(rates), max(rates)

    @property
    def p50_ms(self) -> float:
        return statistics.median(run.p50_ms for run in self.loaded)

    @property
    def p99_ms(self) -> float:
        return statistics.median(run.p99_ms for run in self.loaded)

    @property
    def single_p50_ms(self) -> float:
        return statistics.median(run.p50_ms for run in self.single)


def ratio(results: Mapping[str, TargetResult], key: str) -> float:
    """Throughput of `key` relative to direct OpenBao (1.0 = as fast as no proxy at all)."""
    return results[key].rps / results[DIRECT].rps


def added_p50_ms(results: Mapping[str, TargetResult], key: str) -> float:
    """Median latency `key` adds over direct OpenBao at one connection (no queueing)."""
    return results[key].single_p50_ms - results[DIRECT].single_p50_ms


@dataclass(frozen=True, slots=True)
class Verdict:
    """One target from the issue, the measured value, and whether it was met."""

    check: str
    value: str
    passed: bool

    @property
    def word(self) -> str:
        return "PASS" if self.passed else "MISS"


def _floor(results: Mapping[str, TargetResult], key: str, check: str, floor: float) -> Verdict:
    value = ratio(results, key)
    return Verdict(f"{check} >= {floor:.2f}", f"{value:.2f}", value >= floor)


def verdicts(results: Mapping[str, TargetResult], rss_mib: Mapping[str, float]) -> list[Verdict]:
    """Every target of the issue this run measured, judged against its numbers."""
    sidecar, agent = ratio(results, SIDECAR), ratio(results, AGENT)
    added = added_p50_ms(results, SIDECAR)
    found = [
        _floor(results, SIDECAR, "sidecar/direct", MIN_SIDECAR_RATIO),
        Verdict("sidecar/direct > agent/direct", f"{sidecar:.2f} vs {agent:.2f}", sidecar > agent),
        _floor(results, CHILD, "child-per-request/direct", MIN_CHILD_RATIO),
    ]
    if BATCH in results:
        found.append(_floor(results, BATCH, "batch-child-per-request/direct", MIN_CHILD_RATIO))
    if CACHE in results:
        found.append(_floor(results, CACHE, "read-cache/direct", MIN_CACHE_RATIO))
    found.append(
        Verdict(
            f"sidecar added p50 at 1 connection <= {MAX_ADDED_P50_MS} ms",
            f"{added:.3f} ms",
            added <= MAX_ADDED_P50_MS,
        )
    )
    found += [
        Verdict(f"RSS {key} <= {MAX_RSS_MIB:.0f} MiB", f"{mib:.1f} MiB", mib <= MAX_RSS_MIB)
        for key, mib in rss_mib.items()
    ]
    return found


def ordered(results: Mapping[str, TargetResult]) -> Sequence[TargetResult]:
    """Targets in report order: the baseline first, then the proxies from thinnest to thickest."""
    keys = (DIRECT, AGENT, SIDECAR, AUDIT, CACHE, CHILD, BATCH)
    return [results[key] for key in keys if key in results]
