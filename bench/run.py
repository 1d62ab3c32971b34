"""`make bench`: load direct OpenBao, a bao agent proxy and the sidecar (four modes) with wrk.

All targets live in one run, share one OpenBao and are measured interleaved (round-robin, with
the starting target rotating per round), so drift of the machine lands on all of them alike.
Sidecar modes: token reuse, token reuse + read cache, a service child token per request, a batch
child token per request. A mode the sidecar's settings do not know yet is skipped, and said so.
Misses of the targets are reported, never asserted; errors exit non-zero.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from bench import config
from bench.load import LoadError, Target, probe, run_wrk, wrk_binary, wrk_version
from bench.output import OUT, REPO, save_json
from bench.render import RunInfo, json_record, markdown_table, text_report
from bench.results import (
    AGENT,
    CHILD,
    DIRECT,
    TargetResult,
    WrkOutputError,
    WrkRun,
    verdicts,
)
from bench.stack import (
    StackError,
    bao_version,
    parent_token,
    provision,
    revoke_children,
    rss_mib,
    sidecar_source,
    start_agent,
    start_openbao,
    start_sidecar,
    token_count,
)
from devkit.openbao import OpenBao, OpenBaoUnavailable

RESULTS_FILE = OUT / "results.json"
WORKLOAD = "Workload: GET one KV v2 secret (64-byte value), keep-alive HTTP/1.1 on loopback"


@dataclass(frozen=True, slots=True)
class Options:
    """What to run: seconds per wrk run, rounds, connections for the loaded runs."""

    duration_s: int
    rounds: int
    connections: int
    threads: int
    warmup_s: int


def parse_args(argv: Sequence[str] | None) -> Options:
    """CLI flags; --quick is a smoke run (1 round, 2 s) that still exercises every target."""
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument("--duration", type=int, default=5, help="seconds per wrk run (5)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (3)")
    parser.add_argument("--connections", type=int, default=16, help="loaded connections (16)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 1 round of 2 s")
    args = parser.parse_args(argv)
    if args.quick:
        args.duration, args.rounds = 2, 1
    if min(args.duration, args.rounds, args.connections) < 1:
        parser.error("--duration, --rounds and --connections must be >= 1")
    threads = min(2, args.connections)  # wrk needs connections >= threads
    return Options(args.duration, args.rounds, args.connections, threads, min(2, args.duration))


def build_targets(
    bao: OpenBao, agent_base: str, sidecars: Sequence[tuple[config.SidecarMode, str]]
) -> list[Target]:
    """Direct, bao agent, then one target per sidecar mode; all read the same seeded value."""
    kv, in_vault = f"/v1/{config.kv_data_path()}", ("data", "data", "v")
    key, in_sidecar = {"X-API-Key": config.API_KEY}, ("data", "v")
    secret = f"/secrets/{config.SECRET_PATH}"
    direct_token = {"X-Vault-Token": parent_token(bao)}
    return [
        Target(DIRECT, "direct OpenBao", bao.addr + kv, direct_token, in_vault),
        Target(AGENT, "bao agent (api_proxy)", agent_base + kv, {}, in_vault),
        *(Target(mode.key, mode.label, url + secret, key, in_sidecar) for mode, url in sidecars),
    ]


def _probe_counting_tokens(bao: OpenBao, target: Target, mode: config.SidecarMode | None) -> None:
    """Probe, and check each target mints what its label says, so no label is a lie.

    A service child is a stored token: exactly one more accessor per read. A batch child is
    stored nowhere, so no accessor appears; that the read minted one at all shows when the
    agent's role is switched to `service` for a moment: the same read must then store a
    token (or be refused), and store none again once the role is back to `default-batch`.
    """
    batch = mode is not None and mode.child_tokens and mode.token_type == "batch"
    service = mode is not None and mode.child_tokens and not batch
    _expect_stored(bao, target, 1 if service else 0)
    if batch:
        _prove_batch(bao, target)


def _expect_stored(bao: OpenBao, target: Target, stored: int) -> None:
    before = token_count(bao)
    probe(target, config.SECRET_VALUE)
    minted = token_count(bao) - before
    if minted != stored:
        raise LoadError(f"{target.label}: one read stored {minted} token(s), not {stored}")


def _prove_batch(bao: OpenBao, target: Target) -> None:
    role = f"auth/token/roles/{config.BATCH_POLICY}"
    bao.api("POST", role, config.token_role(config.BATCH_POLICY, "service"))
    try:
        _expect_stored(bao, target, 1)
    except LoadError as exc:
        if "answered 4" not in str(exc):  # a refusal proves the mint too
            raise LoadError(f"{exc} (with the role set to service tokens)") from None
    finally:
        bao.api("POST", role, config.token_role(config.BATCH_POLICY, "default-batch"))
    _expect_stored(bao, target, 0)


def measure(
    targets: Sequence[Target], options: Options, tidy: Callable[[Target], None]
) -> dict[str, TargetResult]:
    """Warm every target up, then interleaved rounds of a loaded and a one-connection run.

    `tidy(target)` runs after each target's turn, outside any measurement.
    """
    for target in targets:
        run_wrk(target, options.connections, options.threads, options.warmup_s)
        tidy(target)
    loaded: dict[str, list[WrkRun]] = {t.key: [] for t in targets}
    single: dict[str, list[WrkRun]] = {t.key: [] for t in targets}
    for number in range(options.rounds):
        for target in _rotated(targets, number):
            loaded[target.key].append(
                run_wrk(target, options.connections, options.threads, options.duration_s)
            )
            single[target.key].append(run_wrk(target, 1, 1, options.duration_s))
            tidy(target)
        _progress(number, options.rounds, targets, loaded)
    return {
        t.key: TargetResult(t.key, t.label, tuple(loaded[t.key]), tuple(single[t.key]))
        for t in targets
    }


def _tidy(bao: OpenBao) -> Callable[[Target], None]:
    """After the child-token sidecar's turn, revoke what it minted (see revoke_children)."""

    def tidy(target: Target) -> None:
        if target.key == CHILD:
            revoke_children(bao)

    return tidy


def _rotated(targets: Sequence[Target], number: int) -> list[Target]:
    # Nobody always goes first (cold) or always follows the heaviest target.
    shift = number % len(targets)
    return [*targets[shift:], *targets[:shift]]


def _progress(
    number: int, rounds: int, targets: Sequence[Target], loaded: dict[str, list[WrkRun]]
) -> None:
    rates = ", ".join(f"{t.key} {loaded[t.key][-1].rps:.0f}" for t in targets)
    print(f"round {number + 1}/{rounds}: req/s {rates}", file=sys.stderr, flush=True)


def bench(options: Options) -> None:
    """Start everything, check each target answers correctly, load, report, tear down."""
    wrk_binary()  # fail before starting servers when wrk is missing
    load_before = os.getloadavg()[0]
    with contextlib.ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="mcp-bench-")))
        bao = start_openbao(stack)
        provision(bao)
        agent_base = start_agent(stack, bao, workdir)
        modes = supported_modes()
        sidecars = {mode.key: start_sidecar(stack, bao, workdir, mode) for mode in modes}
        targets = build_targets(bao, agent_base, [(m, sidecars[m.key].url) for m in modes])
        by_key = {mode.key: mode for mode in modes}
        for target in targets:
            _probe_counting_tokens(bao, target, by_key.get(target.key))
        print(f"started OpenBao, bao agent, {len(modes)} sidecars; loading...", file=sys.stderr)
        results = measure(targets, options, _tidy(bao))
        rss = {key: rss_mib(sidecar.pid) for key, sidecar in sidecars.items()}
        _report(_run_info(options, load_before), results, rss)


def supported_modes() -> list[config.SidecarMode]:
    """The sidecar modes this checkout's sidecar has settings for; the others are named."""
    modes = [mode for mode in config.SIDECAR_MODES if mode.supported()]
    for mode in config.SIDECAR_MODES:
        if mode not in modes:
            needed = ", ".join(name.upper() for name in mode.settings_needed)
            print(f"skipping {mode.label}: this sidecar has no {needed}", file=sys.stderr)
    return modes


def _run_info(options: Options, load_before: float) -> RunInfo:
    return RunInfo(
        connections=options.connections,
        threads=options.threads,
        rounds=options.rounds,
        duration_s=options.duration_s,
        cpus=os.cpu_count() or 0,
        wrk_version=wrk_version(),
        bao_version=bao_version(),
        workload=WORKLOAD,
        load_before=load_before,
        sidecar_source=sidecar_source(REPO),
    )


def _report(info: RunInfo, results: dict[str, TargetResult], rss: dict[str, float]) -> None:
    found = verdicts(results, rss)
    print(text_report(info, results, rss, found))
    print("\nMarkdown (for the README):\n")
    print(markdown_table(results, rss))
    save_json(RESULTS_FILE, json_record(info, results, rss, found))


def _terminate(signum: int, _frame: FrameType | None) -> None:
    # SIGTERM becomes SystemExit, so the ExitStack in bench() still stops every server.
    raise SystemExit(128 + signum)


def main(argv: Sequence[str] | None = None) -> int:
    """Exit 0 with a report (targets met or missed), 1 on an error, 130 on Ctrl-C."""
    options = parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    try:
        bench(options)
    except (LoadError, StackError, WrkOutputError, OpenBaoUnavailable) as exc:
        print(f"bench failed: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("bench interrupted; everything it started is stopped", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
