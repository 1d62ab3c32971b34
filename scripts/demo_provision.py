"""What the demo writes into OpenBao: three agents and a least-privilege sidecar login.

`provision()` is the one entry point; an operator applying VaultAgent files can replace it
without touching the rest of the demo. Request bodies are pure functions so they can be read
(and tested) apart from the HTTP calls.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from devkit.openbao import OpenBao
from vault_mcp_sidecar.naming import policy_name
from vault_mcp_sidecar.policy import agent_policy_hcl, minter_policy_hcl

POLICY_PREFIX = "mcp-agent-"
TRANSIT_MOUNT = "transit"
APPROLE_MOUNT = "approle"
SIDECAR_ROLE = "mcp-sidecar"
MINTER_POLICY = "mcp-sidecar-minter"
CHILD_MAX_TTL = "5m"  # the sidecar asks for CHILD_TOKEN_TTL (90s); the role caps it
LOOPBACK = ["127.0.0.1/32"]


@dataclass(frozen=True)
class SidecarLogin:
    """The AppRole credentials the sidecar logs in with."""

    role_id: str
    secret_id: str


def provision(bao: OpenBao, agents: Sequence[str]) -> SidecarLogin:
    """Transit, each agent's policy and token role, and the sidecar's AppRole."""
    bao.enable_engine(TRANSIT_MOUNT, "transit")
    for agent in agents:
        policy = policy_name(POLICY_PREFIX, agent)
        bao.write_policy(policy, agent_policy_hcl(agent, transit_mount=TRANSIT_MOUNT))
        bao.api("POST", f"auth/token/roles/{policy}", token_role_body(policy))
    bao.write_policy(
        MINTER_POLICY, minter_policy_hcl([policy_name(POLICY_PREFIX, a) for a in agents])
    )
    _enable_approle(bao)
    role = f"auth/{APPROLE_MOUNT}/role/{SIDECAR_ROLE}"
    bao.api("POST", role, approle_body())
    role_id: str = bao.api("GET", f"{role}/role-id")["data"]["role_id"]
    secret_id: str = bao.api("POST", f"{role}/secret-id", {})["data"]["secret_id"]
    return SidecarLogin(role_id=role_id, secret_id=secret_id)


def _enable_approle(bao: OpenBao) -> None:
    if f"{APPROLE_MOUNT}/" not in bao.api("GET", "sys/auth")["data"]:
        bao.api("POST", f"sys/auth/{APPROLE_MOUNT}", {"type": "approle"})


def token_role_body(policy: str) -> dict[str, Any]:
    """Children minted through this role carry exactly `policy` and nothing else."""
    return {
        "allowed_policies": [policy],
        "orphan": False,  # children die with the sidecar's token: the per-agent kill switch
        "renewable": False,
        "token_explicit_max_ttl": CHILD_MAX_TTL,
        "token_no_default_policy": True,
        "token_type": "service",
    }


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
