"""Draw the scaling results (.bench/scaling.json) as one PNG: throughput, memory, convergence.

    .venv/bin/python -m bench.plot [.bench/scaling.json] [docs/scaling.png]

bench/scaling.py calls `draw` after a run; this entry point redraws from a saved record.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display: files only

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.ticker import ScalarFormatter

from bench.output import OUT, REPO
from bench.scaling_report import (
    CHILD,
    DIRECT,
    REUSE,
    SIDECAR_TARGETS,
    OperatorPoint,
    SidecarPoint,
    from_record,
)

DEFAULT_JSON = OUT / "scaling.json"
DEFAULT_PNG = REPO / "docs" / "scaling.png"


def draw(
    sidecar: Sequence[SidecarPoint], operator: Sequence[OperatorPoint], out: Path, note: str
) -> Path:
    """Three panels over the agent count (log scale): req/s, RSS, operator convergence."""
    figure, (rate, memory, converge) = plt.subplots(1, 3, figsize=(15, 4.6))
    agents = [p.agents for p in sidecar]
    for target, style in ((DIRECT, "k--"), (REUSE, "o-"), (CHILD, "s-")):
        if sidecar and target in sidecar[0].rps:
            rate.plot(
                agents,
                [p.median_rps(target) for p in sidecar],
                style,
                label=SIDECAR_TARGETS[target],
            )
    _axes(rate, "One sidecar: KV reads/s", "req/s")
    for target, style in ((REUSE, "o-"), (CHILD, "s-")):
        if sidecar and target in sidecar[0].rss_mib:
            memory.plot(
                agents,
                [p.rss_mib[target] for p in sidecar],
                style,
                label=f"{SIDECAR_TARGETS[target]} (after load)",
            )
    if operator:
        memory.plot(
            [p.agents for p in operator],
            [p.rss_mib for p in operator],
            "^-",
            label="operator (converged)",
        )
    memory.axhline(96, color="grey", linewidth=0.8, linestyle=":", label="96 MiB")
    _axes(memory, "Memory (RSS)", "MiB")
    if operator:
        converge.plot(
            [p.agents for p in operator],
            [p.converge_s for p in operator],
            "^-",
            label="operator: all Ready",
        )
        converge.axhline(60, color="grey", linewidth=0.8, linestyle=":", label="60 s")
    _axes(converge, "Operator: time to converge", "seconds")
    figure.suptitle(note, fontsize=9)
    figure.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, dpi=110)
    plt.close(figure)
    return out


def _axes(axes: Axes, title: str, unit: str) -> None:
    axes.set_xscale("log")
    axes.xaxis.set_major_formatter(ScalarFormatter())  # 1, 10, 100, 1000 rather than 10^n
    axes.set_xlabel("agents")
    axes.set_ylabel(unit)
    axes.set_title(title)
    axes.set_ylim(bottom=0)
    axes.grid(True, which="both", alpha=0.3)
    if axes.get_legend_handles_labels()[0]:
        axes.legend(fontsize=8)


def note(raw: Mapping[str, Any]) -> str:
    """The plot's subtitle: how each half was measured."""
    runs = raw.get("runs", {})
    return "\n".join(f"{name}: {run.get('note', '')}" for name, run in runs.items() if run)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    source = Path(args[0]) if args else DEFAULT_JSON
    out = Path(args[1]) if len(args) > 1 else DEFAULT_PNG
    raw = json.loads(source.read_text())
    sidecar, operator = from_record(raw)
    print(draw(sidecar, operator, out, note(raw)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
