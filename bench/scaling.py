"""`make bench-scaling`: how cost grows with the number of agents, sidecar and operator.

    .venv/bin/python -m bench.scaling [--agents 1,10,100,1000] [--part both|sidecar|operator]
                                      [--duration 5] [--rounds 2] [--connections 16]
                                      [--resync 20] [--quick]

Sidecar (bench/scaling_sidecar.py): one standalone sidecar serving N agents, wrk rotating over
the agents' keys and secrets; req/s for direct OpenBao, token reuse and child token per
request at the same N, and the sidecars' RSS after start and after load.
Operator (bench/scaling_operator.py): the kopf operator on the emulator converging N
VaultAgents: time, RSS, CPU, Vault traffic, and 0 Vault writes on the resync that follows.

Prints both tables as Markdown, writes .bench/scaling.json and the plot (docs/scaling.png, or
--plot PATH). `--quick` is a smoke run (1 and 10 agents, 2 s, 1 round) that writes to
.bench/scaling-quick.{json,png} instead, leaving the published plot alone. Exits 1 on errors;
targets missed are reported, not raised.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from bench import scaling_operator, scaling_sidecar
from bench.load import LoadError, wrk_binary
from bench.output import OUT, REPO, save_json
from bench.results import WrkOutputError
from bench.scaling_report import (
    CHILD,
    REUSE,
    OperatorPoint,
    SidecarPoint,
    from_record,
    operator_table,
    operator_verdicts,
    record,
    sidecar_table,
)
from bench.stack import StackError, bao_version, sidecar_source
from devkit.openbao import OpenBaoUnavailable

RESULTS_FILE = OUT / "scaling.json"
PLOT_FILE = REPO / "docs" / "scaling.png"
QUICK_RESULTS_FILE = OUT / "scaling-quick.json"
QUICK_PLOT_FILE = OUT / "scaling-quick.png"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.scaling",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--agents", default="1,10,100,1000", help="agent counts (1,10,100,1000)")
    parser.add_argument("--part", choices=("both", "sidecar", "operator"), default="both")
    parser.add_argument("--modes", default="reuse,child", help="sidecar modes: reuse,child")
    parser.add_argument("--duration", type=int, default=5, help="seconds per wrk run (5)")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds (2)")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections (16)")
    parser.add_argument("--resync", type=float, default=20.0, help="operator resync interval s")
    parser.add_argument("--timeout", type=float, default=600.0, help="operator: give up after s")
    parser.add_argument("--plot", type=Path, help=f"PNG to write ({PLOT_FILE.relative_to(REPO)})")
    parser.add_argument("--quick", action="store_true", help="smoke run: 1,10 agents, 2 s")
    args = parser.parse_args(argv)
    args.results = QUICK_RESULTS_FILE if args.quick else RESULTS_FILE
    args.plot = args.plot or (QUICK_PLOT_FILE if args.quick else PLOT_FILE)
    if args.quick:
        args.agents, args.duration, args.rounds, args.resync = "1,10", 2, 1, 5.0
    args.counts = sorted({int(n) for n in args.agents.split(",")})
    args.mode_list = [m for m in args.modes.split(",") if m]
    if min(args.counts) < 1 or min(args.duration, args.rounds, args.connections) < 1:
        parser.error("agent counts, --duration, --rounds and --connections must be >= 1")
    if not set(args.mode_list) <= {REUSE, CHILD}:
        parser.error("--modes: reuse and/or child")
    return args


def run(args: argparse.Namespace) -> tuple[list[SidecarPoint], list[OperatorPoint]]:
    sidecar: list[SidecarPoint] = []
    operator: list[OperatorPoint] = []
    if args.part in ("both", "sidecar"):
        wrk_binary()
        options = scaling_sidecar.LoadOptions(args.duration, args.rounds, args.connections)
        with tempfile.TemporaryDirectory(prefix="bench-scaling-") as tmp:
            sidecar = scaling_sidecar.measure(args.counts, args.mode_list, options, Path(tmp))
    if args.part in ("both", "operator"):
        options_op = scaling_operator.OperatorOptions(args.resync, args.timeout)
        operator = scaling_operator.measure(args.counts, options_op)
    return sidecar, operator


def describe(args: argparse.Namespace, load_before: float, part: str) -> dict[str, object]:
    """How one half was measured; its `note` is printed and goes under the plot."""
    machine = f"{os.cpu_count()} CPUs, load average before {load_before:.2f}"
    how = (
        f"{args.rounds} x {args.duration} s per target at {args.connections} connections"
        if part == "sidecar"
        else f"resync interval {args.resync:g} s"
    )
    return {
        "agents": args.counts,
        "duration_s": args.duration,
        "rounds": args.rounds,
        "connections": args.connections,
        "resync_s": args.resync,
        "cpus": os.cpu_count(),
        "load_before": load_before,
        "bao_version": bao_version(),
        "source": sidecar_source(REPO),
        "note": f"{machine}; {how}; code {sidecar_source(REPO)}",
    }


def report(
    infos: dict[str, dict[str, object]],
    sidecar: Sequence[SidecarPoint],
    operator: Sequence[OperatorPoint],
    plot: Path,
    results: Path,
) -> None:
    for part, info in infos.items():
        print(f"\nScaling, {part}: {info['note']}")
    print()
    if sidecar:
        print("One standalone sidecar serving N agents (wrk rotating over the agents):\n")
        print(sidecar_table(sidecar))
    if operator:
        print("\nThe operator (kopf, on the emulator) converging N VaultAgents:\n")
        print(operator_table(operator))
        print("\nTargets (reported, never asserted):")
        for line in operator_verdicts(operator):
            print(f"  {line}")
    previous = json.loads(results.read_text()) if results.exists() else None
    saved = record(infos, sidecar, operator, previous)
    save_json(results, saved)
    from bench.plot import draw, note  # matplotlib only when drawing

    all_sidecar, all_operator = from_record(saved)
    print(f"Plot written to {draw(all_sidecar, all_operator, plot, note(saved))}")


def _terminate(signum: int, _frame: object) -> None:
    # SIGTERM becomes SystemExit, so every `with` still stops the servers it started.
    raise SystemExit(128 + signum)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    load_before = os.getloadavg()[0]
    try:
        sidecar, operator = run(args)
    except (LoadError, StackError, WrkOutputError, OpenBaoUnavailable, RuntimeError) as exc:
        print(f"bench.scaling failed: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("bench.scaling interrupted; everything it started is stopped", file=sys.stderr)
        return 130
    parts = {"sidecar": sidecar, "operator": operator}
    infos = {part: describe(args, load_before, part) for part, points in parts.items() if points}
    report(infos, sidecar, operator, args.plot, args.results)
    failed_resync = any(p.resync_writes for p in operator)
    return 1 if failed_resync else 0


if __name__ == "__main__":
    sys.exit(main())
