"""`make bench` (second part): the operator's offline apply at scale against a real OpenBao.

    .venv/bin/python -m bench.operator [--agents 1000] [--workers 1,8,16]

For each worker count: a fresh OpenBao (file audit device on), N VaultAgents written to a
temporary YAML file, then `apply` (create + issue credentials), a no-op re-apply, and
`delete`. Vault writes and reads are counted from the audit log, not from the operator's own
bookkeeping. A no-op re-apply must make zero writes: a non-zero count exits 1.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from devkit.openbao import OpenBao, OpenBaoUnavailable
from vault_mcp_operator.config import OperatorSettings, load_settings
from vault_mcp_operator.credentials import FileCredentialStore
from vault_mcp_operator.login import login
from vault_mcp_operator.manifests import AgentDocument, load_agents
from vault_mcp_operator.offline import AgentResult, apply_agents, delete_agents
from vault_mcp_operator.vault_admin import VaultAdmin

WRITES = frozenset({"create", "update", "delete"})


@dataclass(frozen=True, slots=True)
class Phase:
    name: str
    workers: int
    agents: int
    seconds: float
    writes: int
    reads: int
    failed: int

    @property
    def rate(self) -> float:
        return self.agents / self.seconds if self.seconds else 0.0


def agent_documents(count: int) -> list[dict[str, Any]]:
    """`count` VaultAgents over 10 namespaces, each with one Transit key and all scopes."""
    return [
        {
            "apiVersion": "vaultmcp.dev/v1alpha1",
            "kind": "VaultAgent",
            "metadata": {"name": f"agent-{i:05d}", "namespace": f"team-{i % 10}"},
            "spec": {
                "scopes": ["read", "write", "list", "delete"],
                "transit": {"keys": ["payments"]},
                "token": {"ttl": "15m", "maxTTL": "1h", "childTTL": "90s"},
                "deletionPolicy": "Delete",
            },
        }
        for i in range(count)
    ]


def audited(entries: Sequence[Mapping[str, Any]]) -> tuple[int, int, list[str]]:
    """(writes, reads, written paths) in audit `entries`: request entries only, since each
    response entry repeats its request."""
    requests = [e["request"] for e in entries if e.get("type") == "request"]
    written = [str(r.get("path")) for r in requests if r.get("operation") in WRITES]
    return len(written), len(requests) - len(written), written


Action = Callable[[], list[AgentResult]]


def _phase(bao: OpenBao, name: str, workers: int, action: Action) -> Phase:
    mark = len(bao.audit_entries())
    start = time.perf_counter()
    results = action()
    seconds = time.perf_counter() - start
    writes, reads, _ = audited(bao.audit_entries()[mark:])
    failed = sum(not r.ok for r in results)
    return Phase(name, workers, len(results), seconds, writes, reads, failed)


def run_once(agents: Sequence[AgentDocument], workers: int, workdir: Path) -> list[Phase]:
    with OpenBao(audit=True) as bao:
        bao.enable_engine("transit", "transit")
        bao.api("POST", "sys/auth/approle", {"type": "approle"})
        settings: OperatorSettings = load_settings(vault_addr=bao.addr, vault_token=bao.token)
        admin = VaultAdmin(login(settings, pool_size=workers), settings)
        store = FileCredentialStore(workdir / f"creds-{workers}")

        def apply() -> list[AgentResult]:
            return apply_agents(admin, store, agents, settings, workers)

        def delete() -> list[AgentResult]:
            return delete_agents(admin, store, agents, settings, workers)

        return [
            _phase(bao, "apply (create)", workers, apply),
            _phase(bao, "re-apply (no-op)", workers, apply),
            _phase(bao, "delete (Delete)", workers, delete),
        ]


def table(phases: Sequence[Phase]) -> str:
    header = (
        f"{'phase':<18} {'workers':>7} {'agents':>6} {'seconds':>8} {'agents/s':>9} "
        f"{'writes':>7} {'writes/agent':>12} {'reads/agent':>11} {'failed':>6}"
    )
    rows = [
        f"{p.name:<18} {p.workers:>7} {p.agents:>6} {p.seconds:>8.2f} {p.rate:>9.0f} "
        f"{p.writes:>7} {p.writes / p.agents:>12.2f} {p.reads / p.agents:>11.2f} {p.failed:>6}"
        for p in phases
    ]
    return "\n".join([header, "-" * len(header), *rows])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.operator", description=__doc__)
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--workers", default="1,8", help="comma-separated worker counts")
    args = parser.parse_args(argv)
    counts = [int(w) for w in args.workers.split(",")]
    phases: list[Phase] = []
    try:
        with tempfile.TemporaryDirectory(prefix="bench-operator-") as tmp:
            workdir = Path(tmp)
            path = workdir / "agents.yaml"
            path.write_text(yaml.safe_dump_all(agent_documents(args.agents)))
            start = time.perf_counter()
            agents = load_agents([path])
            parse_s = time.perf_counter() - start
            for workers in counts:
                phases += run_once(agents, workers, workdir)
                print(table(phases[-3:]).splitlines()[-1], file=sys.stderr, flush=True)
    except OpenBaoUnavailable as exc:
        print(f"bench.operator: {exc}", file=sys.stderr)
        return 2
    print(f"\nOperator offline apply: {args.agents} VaultAgents, real OpenBao (audit on)")
    print(f"Parsing and validating the YAML: {parse_s:.2f} s\n")
    print(table(phases))
    noop_writes = sum(p.writes for p in phases if p.name.startswith("re-apply"))
    failed = sum(p.failed for p in phases)
    print(f"\nno-op re-apply writes: {noop_writes} (must be 0); failed agents: {failed}")
    return 0 if noop_writes == 0 and failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
