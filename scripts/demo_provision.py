"""What the demo writes into OpenBao: three agents from VaultAgent files, and a
least-privilege login for the one sidecar that serves them all.

The agents come from `manifests/examples/demo-agents.yaml` through the operator's offline
apply (`vault-mcp-operator apply -f`, the same code): per agent its policy, minter policy,
token role, AppRole and Transit keys. In standalone mode one sidecar serves all three agents,
while each AppRole belongs to one agent, so the demo's sidecar keeps its own AppRole
`mcp-sidecar`, whose only policy mints children through the three agents' token roles.
Request bodies are pure functions so they can be read (and tested) apart from the HTTP calls.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devkit.openbao import OpenBao
from vault_mcp_operator.config import load_settings
from vault_mcp_operator.login import login
from vault_mcp_operator.manifests import load_agents
from vault_mcp_operator.names import agent_names
from vault_mcp_operator.offline import apply_agents
from vault_mcp_operator.vault_admin import VaultAdmin
from vault_mcp_sidecar.policy import minter_policy_hcl

REPO = Path(__file__).resolve().parents[1]
AGENTS_FILE = REPO / "manifests" / "examples" / "demo-agents.yaml"
TRANSIT_MOUNT = "transit"
APPROLE_MOUNT = "approle"
SIDECAR_ROLE = "mcp-sidecar"
MINTER_POLICY = "mcp-sidecar-minter"
LOOPBACK = ["127.0.0.1/32"]


@dataclass(frozen=True)
class SidecarLogin:
    """The AppRole credentials the sidecar logs in with."""

    role_id: str
    secret_id: str


@dataclass(frozen=True)
class Provisioned:
    login: SidecarLogin
    agents: tuple[str, ...]  # agent ids, in file order
    lines: tuple[str, ...]  # what `vault-mcp-operator apply` said, one line per agent


def provision(bao: OpenBao, agents_file: Path = AGENTS_FILE) -> Provisioned:
    """Prerequisites, the agents from `agents_file`, and the sidecar's AppRole."""
    _install_prerequisites(bao)
    lines, token_roles, subjects = _apply(bao, agents_file)
    bao.write_policy(MINTER_POLICY, minter_policy_hcl(token_roles))
    role = f"auth/{APPROLE_MOUNT}/role/{SIDECAR_ROLE}"
    bao.api("POST", role, approle_body())
    role_id: str = bao.api("GET", f"{role}/role-id")["data"]["role_id"]
    secret_id: str = bao.api("POST", f"{role}/secret-id", {})["data"]["secret_id"]
    return Provisioned(SidecarLogin(role_id, secret_id), subjects, lines)


def _install_prerequisites(bao: OpenBao) -> None:
    """What an administrator does once before the operator runs."""
    bao.enable_engine(TRANSIT_MOUNT, "transit")
    if f"{APPROLE_MOUNT}/" not in bao.api("GET", "sys/auth")["data"]:
        bao.api("POST", f"sys/auth/{APPROLE_MOUNT}", {"type": "approle"})


def _apply(bao: OpenBao, agents_file: Path) -> tuple[tuple[str, ...], list[str], tuple[str, ...]]:
    """`vault-mcp-operator apply -f agents_file`, in-process; fails on any agent's error."""
    settings = load_settings(vault_addr=bao.addr, vault_token=bao.token)
    agents = load_agents([agents_file])
    results = apply_agents(VaultAdmin(login(settings), settings), None, agents, settings)
    failed = [r.line for r in results if not r.ok]
    if failed:
        raise RuntimeError("; ".join(failed))
    names = [agent_names(a.namespace, a.name, settings) for a in agents]
    return (
        tuple(r.line for r in results),
        [n.token_role for n in names],
        tuple(n.subject for n in names),
    )


def approle_body() -> dict[str, Any]:
    """A service token with unlimited uses (Vault refuses children of batch or use-limited
    tokens), usable from loopback only."""
    return {
        "token_policies": [MINTER_POLICY],
        "token_no_default_policy": True,
        "token_type": "service",
        "token_num_uses": 0,
        "token_ttl": "1h",
        "token_max_ttl": "24h",
        "token_bound_cidrs": LOOPBACK,
        "secret_id_ttl": "24h",
        "secret_id_num_uses": 0,
        "secret_id_bound_cidrs": LOOPBACK,
    }
