"""Scaling, sidecar half: one standalone sidecar serving 1, 10, 100, 1,000 agents, with wrk.

One OpenBao holds every agent (secret, policy, child-token role). For each agent count N, the
sidecars (token reuse; child token per request) start with N API keys, and wrk rotates over
the N agents — each request the next agent's key and secret (bench/rotate.lua); direct OpenBao
is loaded with the same script over the same N paths, so the ratio compares like with like.
Targets interleave per round, as in bench/run.py. RSS is read after start and after load.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from bench import config, fleet, results
from bench.load import LoadError, Target, probe, run_wrk
from bench.scaling_report import CHILD, DIRECT, REUSE, SIDECAR_TARGETS, SidecarPoint
from bench.stack import launch_sidecar, rss_mib, start_openbao, token_count
from devkit.openbao import OpenBao
from devkit.sidecar import SidecarProcess
from vault_mcp_sidecar.policy import agent_policy_hcl, fleet_minter_policy_hcl

_IN_VAULT = ("data", "data", "v")
_IN_SIDECAR = ("data", "v")
_MODES = {REUSE: config.mode(results.SIDECAR), CHILD: config.mode(results.CHILD)}


@dataclass(frozen=True, slots=True)
class LoadOptions:
    duration_s: int
    rounds: int
    connections: int

    @property
    def threads(self) -> int:
        return min(2, self.connections)


def provision_fleet(bao: OpenBao, agents: Sequence[fleet.FleetAgent]) -> None:
    """Per agent its secret, policy and child-token role; the reader policy."""

    def one(agent: fleet.FleetAgent) -> None:
        bao.api("POST", agent.kv_data_path(), {"data": {"v": agent.value}})
        bao.write_policy(agent.policy, agent_policy_hcl(agent.name))
        bao.api("POST", f"auth/token/roles/{agent.policy}", config.token_role(agent.policy))

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(one, agents))
    bao.write_policy(fleet.READER_POLICY, fleet.reader_policy_hcl())


def fleet_token(bao: OpenBao, key: str, agents: Sequence[fleet.FleetAgent]) -> str:
    """The token each target reads (or mints) with, holding only what that target needs.

    Direct and token reuse: the reader policy. Child tokens: the minter policy for one
    sidecar serving many agents, `fleet_minter_policy_hcl` (one glob rule over the agents'
    roles). Vault builds a token's ACL from its policies on every request; with one rule per
    agent's role (`minter_policy_hcl`) each mint cost grew with the agents served (5.3 ms at
    1,000 roles against 2.1 ms with the glob, measured here before the switch).
    """
    if key == CHILD:
        policy = f"{config.PARENT_POLICY}-{len(agents)}"
        bao.write_policy(policy, fleet_minter_policy_hcl(config.POLICY_PREFIX))
    else:
        policy = fleet.READER_POLICY
    return bao.create_token(config.parent_token_request() | {"policies": [policy]})


def _start(
    stack: contextlib.ExitStack,
    bao: OpenBao,
    key: str,
    agents: Sequence[fleet.FleetAgent],
    workdir: Path,
) -> SidecarProcess:
    env = config.sidecar_env(bao.addr, fleet_token(bao, key, agents), _MODES[key])
    env["API_KEYS_JSON"] = fleet.api_keys_json(agents)
    log_file = workdir / f"fleet-{key}-{len(agents)}.log"
    return launch_sidecar(stack, env, log_file, f"sidecar ({key}, {len(agents)} agents)")


def _targets(
    bao: OpenBao,
    agents: Sequence[fleet.FleetAgent],
    sidecars: dict[str, SidecarProcess],
    workdir: Path,
) -> list[Target]:
    direct_file = workdir / f"direct-{len(agents)}.tsv"
    token = fleet_token(bao, DIRECT, agents)
    direct_file.write_text("\n".join(fleet.direct_lines(agents, token)) + "\n")
    sidecar_file = workdir / f"sidecar-{len(agents)}.tsv"
    sidecar_file.write_text("\n".join(fleet.sidecar_lines(agents)) + "\n")
    found = [Target(DIRECT, SIDECAR_TARGETS[DIRECT], bao.addr, {}, _IN_VAULT, direct_file)]
    found += [
        Target(key, SIDECAR_TARGETS[key], sidecar.url, {}, _IN_SIDECAR, sidecar_file)
        for key, sidecar in sidecars.items()
    ]
    return found


def _probe(bao: OpenBao, target: Target, agents: Sequence[fleet.FleetAgent]) -> None:
    """The first and the last agent each get their own value; a child-token read mints one."""
    for agent in {agents[0].index: agents[0], agents[-1].index: agents[-1]}.values():
        if target.key == DIRECT:
            url = f"{target.url}/v1/{agent.kv_data_path()}"
            headers = {"X-Vault-Token": fleet_token(bao, DIRECT, agents)}
        else:
            url = f"{target.url}/secrets/{config.SECRET_PATH}"
            headers = {"X-API-Key": agent.api_key}
        single = Target(target.key, target.label, url, headers, target.value_path)
        before = token_count(bao)
        probe(single, agent.value)
        minted = token_count(bao) - before
        if minted != (1 if target.key == CHILD else 0):
            raise LoadError(f"{target.label} ({agent.name}): one read minted {minted} token(s)")


def _revoke_children(bao: OpenBao, agents: Sequence[fleet.FleetAgent]) -> None:
    """Revoke what the child-token sidecar minted, per agent role (see stack.revoke_children)."""

    def one(agent: fleet.FleetAgent) -> None:
        bao.api(
            "PUT",
            f"sys/leases/revoke-prefix/auth/token/create/{agent.policy}",
            {"sync": True},
        )

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(one, agents))


def measure_point(
    bao: OpenBao,
    agents: Sequence[fleet.FleetAgent],
    modes: Sequence[str],
    options: LoadOptions,
    workdir: Path,
) -> SidecarPoint:
    with contextlib.ExitStack() as stack:
        sidecars = {key: _start(stack, bao, key, agents, workdir) for key in modes}
        idle = {key: rss_mib(sidecar.pid) for key, sidecar in sidecars.items()}
        targets = _targets(bao, agents, sidecars, workdir)
        for target in targets:
            _probe(bao, target, agents)
        rps: dict[str, list[float]] = {t.key: [] for t in targets}
        for target in targets:  # warm-up, uncounted
            run_wrk(target, options.connections, options.threads, min(2, options.duration_s))
        _tidy(bao, agents, modes)
        for number in range(options.rounds):
            shift = number % len(targets)
            for target in [*targets[shift:], *targets[:shift]]:
                run = run_wrk(target, options.connections, options.threads, options.duration_s)
                rps[target.key].append(run.rps)
                if target.key == CHILD:
                    _revoke_children(bao, agents)
            rates = ", ".join(f"{k} {v[-1]:.0f}" for k, v in rps.items())
            print(f"  {len(agents)} agents, round {number + 1}: req/s {rates}", file=sys.stderr)
        after = {key: rss_mib(sidecar.pid) for key, sidecar in sidecars.items()}
    return SidecarPoint(len(agents), rps, idle, after)


def _tidy(bao: OpenBao, agents: Sequence[fleet.FleetAgent], modes: Sequence[str]) -> None:
    if CHILD in modes:
        _revoke_children(bao, agents)


def measure(
    counts: Sequence[int], modes: Sequence[str], options: LoadOptions, workdir: Path
) -> list[SidecarPoint]:
    """Every agent count in turn, against one OpenBao provisioned for the largest."""
    agents = fleet.fleet(max(counts))
    points = []
    with contextlib.ExitStack() as stack:
        bao = start_openbao(stack)
        print(f"sidecar scaling: provisioning {len(agents)} agents...", file=sys.stderr)
        provision_fleet(bao, agents)
        for count in counts:
            points.append(measure_point(bao, agents[:count], modes, options, workdir))
    return points
