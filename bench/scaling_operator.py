"""Scaling, operator half: the kopf operator converging 1, 10, 100, 1,000 VaultAgents.

For each count: a fresh OpenBao (file audit device on), a fresh Kubernetes emulator (KMock,
with bench/emulator.py's flat cost per request) and `vault-mcp-operator run` as its own
process with its shipped least-privilege policy, exactly as the kopf integration tests run it
(tests/integration/operator/kopf_support.py). The agents are created as fast as the emulator
takes them (as `kubectl apply -f` of N objects would); converged = every agent Ready=True for
its current generation. Then, with the timer's resync interval short, the bench watches until
every agent has been reconciled again at least once more (the operator's own reconcile
counter) and counts Vault writes in the audit log meanwhile: a resync of unchanged agents
must write nothing.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.emulator import BenchEmulator
from bench.operator import agent_documents, audited
from bench.scaling_report import OperatorPoint
from bench.stack import StackError, cpu_seconds, rss_mib
from devkit.kube import GROUP, PLURAL, VERSION, KubeEmulator, OperatorProcess, agents_path
from devkit.openbao import OpenBao
from tests.integration.operator.kopf_support import operator_env, prepare_vault

_RECONCILES_OK = 'vaultmcp_operator_reconciles_total{result="ok"}'


@dataclass(frozen=True, slots=True)
class OperatorOptions:
    resync_s: float  # RECONCILE_INTERVAL_SECONDS during the run
    timeout_s: float  # give up converging (or resyncing) after this long


def _create_agents(emulator: KubeEmulator, count: int) -> None:
    def create(doc: dict[str, Any]) -> None:
        emulator.raw("POST", agents_path(doc["metadata"]["namespace"]), doc)

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(create, agent_documents(count)))


def ready_count(emulator: KubeEmulator) -> int:
    """VaultAgents whose Ready condition is True for their current generation."""
    listing = emulator.raw("GET", f"/apis/{GROUP}/{VERSION}/{PLURAL}")
    ready = 0
    for agent in listing.get("items", []):
        generation = agent.get("metadata", {}).get("generation")
        for cond in agent.get("status", {}).get("conditions", []) or []:
            if cond.get("type") == "Ready":
                ready += (
                    cond.get("status") == "True" and cond.get("observedGeneration") == generation
                )
    return ready


def operator_pid(operator: OperatorProcess) -> int:
    """The operator process's pid: the one child of ours running `vault_mcp_operator run`."""
    for task in Path("/proc/self/task").glob("*/children"):
        for pid in task.read_text().split():
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            if b"vault_mcp_operator" in cmdline and b"run" in cmdline:
                return int(pid)
    raise StackError(f"operator process not found:\n{operator.logs()[-2000:]}")


def reconciles_ok(operator: OperatorProcess) -> int:
    for line in operator.metrics().splitlines():
        if line.startswith(_RECONCILES_OK):
            return int(float(line.split()[-1]))
    return 0


def _wait(
    what: str, done: Callable[[], bool], timeout: float, operator: OperatorProcess, every: float
) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise StackError(f"{what}: not within {timeout:g} s\n{operator.logs()[-3000:]}")
        if not operator.running:
            raise StackError(f"operator exited during {what}:\n{operator.logs()[-3000:]}")
        time.sleep(every)


def poll_interval(count: int) -> float:
    """How often to list the agents: each listing costs the emulator (in this process, beside
    the operator's requests) time proportional to `count`, so large counts are polled less
    often; the converge time is then late by at most this much."""
    return min(1.0, max(0.1, count / 1000))


def measure_point(count: int, options: OperatorOptions) -> OperatorPoint:
    with OpenBao(audit=True) as bao, BenchEmulator() as emulator:
        env = operator_env(bao, prepare_vault(bao))
        env |= {"RECONCILE_INTERVAL_SECONDS": f"{options.resync_s:g}"}
        env |= {"RECONCILE_IDLE_SECONDS": "0"}
        with OperatorProcess(emulator, env) as operator:
            pid = operator_pid(operator)
            cpu_before = cpu_seconds(pid)
            mark = len(bao.audit_entries())
            started = time.perf_counter()
            _create_agents(emulator, count)
            _wait(
                f"{count} agents Ready",
                lambda: ready_count(emulator) == count,
                options.timeout_s,
                operator,
                poll_interval(count),
            )
            converge_s = time.perf_counter() - started
            cpu_s = cpu_seconds(pid) - cpu_before
            rss = rss_mib(pid)
            writes, reads, _ = audited(bao.audit_entries()[mark:])
            print(f"  {count} agents Ready in {converge_s:.1f} s", file=sys.stderr, flush=True)
            resync_mark, base = len(bao.audit_entries()), reconciles_ok(operator)
            _wait(
                f"{count} resyncs",
                lambda: reconciles_ok(operator) >= base + count,
                options.timeout_s + options.resync_s,
                operator,
                1.0,
            )
            resynced = reconciles_ok(operator) - base
            resync_writes, _, paths = audited(bao.audit_entries()[resync_mark:])
    return OperatorPoint(
        agents=count,
        converge_s=converge_s,
        rss_mib=rss,
        cpu_s=cpu_s,
        vault_writes=writes,
        vault_reads=reads,
        resynced=resynced,
        resync_writes=resync_writes,
        resync_write_paths=sorted(set(paths))[:20],
    )


def measure(counts: Sequence[int], options: OperatorOptions) -> list[OperatorPoint]:
    points = []
    for count in counts:
        print(f"operator scaling: {count} VaultAgents...", file=sys.stderr, flush=True)
        points.append(measure_point(count, options))
    return points
