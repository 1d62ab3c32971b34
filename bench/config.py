"""Pure configuration of the benchmarked stack: names, policy text, agent HCL, sidecar env.

Kept apart from bench/stack.py (which starts processes) so what the bench asks of OpenBao, the
bao agent and the sidecar can be read in one place.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bench.results import AUDIT, BATCH, CACHE, CHILD, SIDECAR
from vault_mcp_sidecar.config import Settings
from vault_mcp_sidecar.naming import policy_name

AGENT_ID = "bench-agent"
# The batch-child-token sidecar reads as an agent of its own: the operator gives an agent that
# asks for batch children a token role of type `default-batch` (desired.py), and one role per
# agent is all there is, so the two child-token modes need two agents. Same secret, same size.
BATCH_AGENT_ID = "bench-batch"
POLICY_PREFIX = "mcp-agent-"  # the sidecar's CHILD_TOKEN_POLICY_PREFIX default
AGENT_POLICY = policy_name(POLICY_PREFIX, AGENT_ID)
BATCH_POLICY = policy_name(POLICY_PREFIX, BATCH_AGENT_ID)
PARENT_POLICY = "mcp-bench-minter"
KV_MOUNT = "secret"
KV_PREFIX = "mcp"
SECRET_PATH = "k"
SECRET_VALUE = "x" * 64
API_KEY = "bench-key-0123456789abcdef"
# Long enough that no child token expires while the bench runs: otherwise OpenBao's expiration
# manager would revoke them during some other target's measurement. The bench revokes them in
# bulk between runs instead (stack.revoke_children).
CHILD_TOKEN_TTL = "2h"


def kv_data_path(agent: str = AGENT_ID) -> str:
    """The seeded secret's KV v2 API path, as direct clients and the bao agent read it."""
    return f"{KV_MOUNT}/data/{KV_PREFIX}/{agent}/{SECRET_PATH}"


def token_role(policy: str = AGENT_POLICY, token_type: str = "service") -> dict[str, Any]:  # noqa: S107
    """The child-token role of DESIGN §3: exactly the agent policy, not renewable, not orphan.

    `default-batch` for an agent with batch children, as the operator makes it: Vault allows
    no non-orphan role of type `batch`, and the sidecar names the type in each request.
    """
    return {
        "allowed_policies": [policy],
        "orphan": False,
        "renewable": False,
        "token_no_default_policy": True,
        "token_type": token_type,
    }


@dataclass(frozen=True, slots=True)
class SidecarMode:
    """One benchmarked sidecar configuration (a target of bench/run.py)."""

    key: str
    label: str
    agent: str = AGENT_ID
    child_tokens: bool = False
    token_type: str = "service"  # CHILD_TOKEN_TYPE
    read_cache: bool = False  # READ_CACHE_ENABLED
    # warning: no per-request line, like the bao agent's -log-level=warn. info: the audit
    # line the sidecar writes per call by default (LOG_LEVEL=info), to show what it costs.
    log_level: str = "warning"

    @property
    def settings_needed(self) -> tuple[str, ...]:
        """Sidecar settings this mode sets beyond the basics: a sidecar without them is too
        old for the mode, and the bench skips it instead of measuring something else."""
        needed = []
        if self.token_type != "service":
            needed.append("child_token_type")
        if self.read_cache:
            needed.append("read_cache_enabled")
        return tuple(needed)

    def supported(self, fields: Mapping[str, object] = Settings.model_fields) -> bool:
        return all(name in fields for name in self.settings_needed)


def parent_token_request() -> dict[str, Any]:
    """A service token with unlimited uses (Vault refuses children of use-limited tokens).

    Minter policy (mint through the role, lookup/renew itself) as the sidecar has it in
    production, plus the agent policy so token-reuse mode can read KV with the parent itself.
    """
    return {
        "policies": [PARENT_POLICY, AGENT_POLICY],
        "no_default_policy": True,
        "ttl": "4h",
        "renewable": True,
        "type": "service",
    }


def agent_config_hcl(vault_addr: str, token_file: str, port: int) -> str:
    """A bao agent that only proxies: auto-auth from a token file, API proxy on loopback."""
    return f"""\
vault {{
  address = "{vault_addr}"
}}

auto_auth {{
  method "token_file" {{
    config = {{
      token_file_path = "{token_file}"
    }}
  }}
}}

api_proxy {{
  use_auto_auth_token = true
}}

listener "tcp" {{
  address     = "127.0.0.1:{port}"
  tls_disable = true
}}
"""


def agent_env(base: Mapping[str, str]) -> dict[str, str]:
    """The caller's environment minus BAO_*/VAULT_*: a shell's token or address stays out."""
    return {k: v for k, v in base.items() if not k.upper().startswith(("BAO_", "VAULT_"))}


SIDECAR_MODES = (
    SidecarMode(SIDECAR, "sidecar, token reuse"),
    SidecarMode(AUDIT, "sidecar, token reuse + audit line", log_level="info"),
    SidecarMode(CACHE, "sidecar, token reuse + read cache", read_cache=True),
    SidecarMode(CHILD, "sidecar, child token per request", child_tokens=True),
    SidecarMode(
        BATCH,
        "sidecar, batch child token per request",
        agent=BATCH_AGENT_ID,
        child_tokens=True,
        token_type="batch",
    ),
)


def mode(key: str) -> SidecarMode:
    """The SIDECAR_MODES entry with this key."""
    return next(m for m in SIDECAR_MODES if m.key == key)


def sidecar_env(vault_addr: str, token: str, mode: SidecarMode) -> dict[str, str]:
    """The standalone sidecar's settings (DESIGN §6): API key auth only, no rate limit.

    devkit's SidecarProcess adds HOST/PORT and the caller's environment minus sidecar settings.
    Settings a mode does not use are left out, so an older sidecar still starts.
    """
    env = {
        "VAULT_ADDR": vault_addr,
        "VAULT_TOKEN": token,
        "KV_MOUNT": KV_MOUNT,
        "DEFAULT_PREFIX": KV_PREFIX,
        "AUTH_API_KEY_ENABLED": "true",
        "AUTH_JWT_ENABLED": "false",
        "AUTH_MTLS_ENABLED": "false",
        "API_KEYS_JSON": json.dumps({API_KEY: mode.agent}),
        "CHILD_TOKEN_ENABLED": "true" if mode.child_tokens else "false",
        "CHILD_TOKEN_TTL": CHILD_TOKEN_TTL,
        "CHILD_TOKEN_POLICY_PREFIX": POLICY_PREFIX,
        "RATE_LIMIT_ENABLED": "false",
        "LOG_LEVEL": mode.log_level,
    }
    if mode.token_type != "service":
        env["CHILD_TOKEN_TYPE"] = mode.token_type
    if mode.read_cache:
        # The default TTL (5 s): a wrk run then sees a miss every 5 s, the rest are hits.
        env["READ_CACHE_ENABLED"] = "true"
    return env
