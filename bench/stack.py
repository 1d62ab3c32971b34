"""Start, provision and measure the real servers: OpenBao, a bao agent proxy, two sidecars.

Every process runs in its own session (process group) and its teardown is registered on the
caller's ExitStack before it is started, so Ctrl-C, an error or a failed start stops all of it.
OpenBao and the sidecar come from the shared devkit harnesses; only the bao agent is started here.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from bench import config
from devkit.openbao import OpenBao, bao_binary
from devkit.ports import free_port
from devkit.sidecar import SidecarProcess
from vault_mcp_sidecar.policy import agent_policy_hcl, minter_policy_hcl

_READY_TIMEOUT_S = 30.0


class StackError(RuntimeError):
    """A server did not start or did not become ready; carries the tail of its log."""


@dataclass
class Service:
    """One process started here (the bao agent) and its log file."""

    name: str
    proc: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> None:
        """SIGTERM the whole process group, SIGKILL it if it lingers: workers die too."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def log_tail(self, chars: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""


def start_service(
    stack: contextlib.ExitStack, name: str, args: list[str], env: Mapping[str, str], log: Path
) -> Service:
    """Popen in a new session, with stop() registered on `stack` before anything can fail."""
    with log.open("ab") as handle:
        proc = subprocess.Popen(
            args, stdout=handle, stderr=subprocess.STDOUT, env=dict(env), start_new_session=True
        )
    service = Service(name, proc, log)
    stack.callback(service.stop)
    return service


def wait_ready(service: Service, url: str) -> None:
    """Poll `url` until it answers 200; fail early (with the log) if the process exits."""
    deadline = time.monotonic() + _READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if service.proc.poll() is not None:
            raise StackError(
                f"{service.name} exited ({service.proc.returncode}):\n{service.log_tail()}"
            )
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(url, timeout=2) as response,  # noqa: S310 - loopback
        ):
            if response.status == 200:
                return
        time.sleep(0.1)
    raise StackError(
        f"{service.name} not ready at {url} in {_READY_TIMEOUT_S:g}s:\n{service.log_tail()}"
    )


def provision(bao: OpenBao) -> None:
    """Transit; per agent the seeded secret, its policy and child-token role; the minter policy.

    The batch agent's role is `default-batch`, as the operator makes it for such an agent.
    """
    bao.enable_engine("transit", "transit")
    agents = [
        (config.AGENT_ID, config.AGENT_POLICY, "service"),
        (config.BATCH_AGENT_ID, config.BATCH_POLICY, "default-batch"),
    ]
    for agent, policy, token_type in agents:
        bao.api("POST", config.kv_data_path(agent), {"data": {"v": config.SECRET_VALUE}})
        bao.write_policy(policy, agent_policy_hcl(agent))
        bao.api("POST", f"auth/token/roles/{policy}", config.token_role(policy, token_type))
    minter = minter_policy_hcl([policy for _, policy, _ in agents])
    bao.write_policy(config.PARENT_POLICY, minter)


def parent_token(bao: OpenBao) -> str:
    """A fresh parent token: each client gets its own, so none can disturb another's."""
    return bao.create_token(config.parent_token_request())


def token_count(bao: OpenBao) -> int:
    """How many tokens OpenBao stores: proves whether a request minted a service child token."""
    return len(bao.api("LIST", "auth/token/accessors")["data"]["keys"])


def revoke_children(bao: OpenBao) -> None:
    """Revoke every child token minted through the agent's role, and wait until it is done.

    Run between measurements, so every run starts against the same OpenBao: without it the
    tokens pile up (a few thousand per run) and later rounds of every target get slower.
    """
    prefix = f"auth/token/create/{config.AGENT_POLICY}"  # no trailing '/': OpenBao refuses it
    request = urllib.request.Request(  # noqa: S310 - loopback
        f"{bao.addr}/v1/sys/leases/revoke-prefix/{prefix}",
        data=json.dumps({"sync": True}).encode(),
        headers={"X-Vault-Token": bao.token},
        method="PUT",
    )
    # bao.api() gives up after 10 s; revoking ~3000 tokens/s, big runs need longer.
    with urllib.request.urlopen(request, timeout=600):  # noqa: S310 - loopback
        pass


def start_agent(stack: contextlib.ExitStack, bao: OpenBao, workdir: Path) -> str:
    """A bao agent API proxy with token_file auto-auth; returns its base URL."""
    token_file = _secret_file(workdir / "agent-token", parent_token(bao))
    port = free_port()
    hcl = workdir / "agent.hcl"
    hcl.write_text(config.agent_config_hcl(bao.addr, str(token_file), port))
    args = [bao_binary(), "agent", f"-config={hcl}", "-log-level=warn"]
    service = start_service(
        stack, "bao agent", args, config.agent_env(os.environ), workdir / "agent.log"
    )
    base = f"http://127.0.0.1:{port}"
    # Ready means auto-auth is done too: the proxied read succeeds without a token.
    wait_ready(service, f"{base}/v1/{config.kv_data_path()}")
    return base


def start_openbao(stack: contextlib.ExitStack) -> OpenBao:
    """A dev OpenBao, stopped and its directory removed when `stack` closes or its start fails."""
    return stack.enter_context(OpenBao())


def start_sidecar(
    stack: contextlib.ExitStack, bao: OpenBao, workdir: Path, mode: config.SidecarMode
) -> SidecarProcess:
    """One standalone sidecar (`python -m vault_mcp_sidecar`) in `mode`, with a parent token."""
    env = config.sidecar_env(bao.addr, parent_token(bao), mode)
    return launch_sidecar(stack, env, workdir / f"{mode.key}.log", mode.key)


def launch_sidecar(
    stack: contextlib.ExitStack, env: dict[str, str], log_file: Path, label: str
) -> SidecarProcess:
    """A sidecar through the devkit harness, its stop registered before it starts.

    A sidecar that does not come up is a StackError naming `label`, with the harness's reason.
    """
    sidecar = SidecarProcess(env, log_file=log_file)
    stack.callback(sidecar.stop)
    try:
        sidecar.start()
    except RuntimeError as exc:
        raise StackError(f"{label}: {exc}") from exc
    return sidecar


def _secret_file(path: Path, content: str) -> Path:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(content)
    return path


def rss_mib(pid: int) -> float:
    """Resident memory of `pid` and all its descendants (uvicorn workers count too), in MiB."""
    return sum(_vm_rss_kib(p) for p in _process_tree(pid)) / 1024


def cpu_seconds(pid: int) -> float:
    """User + system CPU of `pid` so far (from /proc/<pid>/stat, in clock ticks)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def _process_tree(pid: int) -> list[int]:
    found = [pid]
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        with contextlib.suppress(OSError):
            for child in task.read_text().split():
                found += _process_tree(int(child))
    return found


def _vm_rss_kib(pid: int) -> int:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def sidecar_source(repo: Path) -> str:
    """`commit 1a2b3c4` of the sidecar sources, `+ uncommitted changes` when the tree is dirty."""
    sources = ("sidecar/src", "sidecar/pyproject.toml")
    commit = _git(repo, "log", "-1", "--format=%h", "--", *sources)
    if not commit:
        return "unknown (not a git checkout)"
    dirty = _git(repo, "status", "--porcelain", "--", *sources)
    return f"commit {commit}" + (" + uncommitted changes" if dirty else "")


def _git(repo: Path, *args: str) -> str:
    proc = subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=False
    )
    return proc.stdout.strip() if proc.returncode == 0 else ""


def bao_version() -> str:
    """`OpenBao v2.7.2`, for the report header."""
    out = subprocess.run([bao_binary(), "version"], capture_output=True, text=True, check=False)
    return " ".join(out.stdout.split()[:2])
