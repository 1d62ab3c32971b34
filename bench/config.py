"""Pure configuration of the benchmarked stack: names, policy text, agent HCL, sidecar env.

Kept apart from bench/stack.py (which starts processes) so what the bench asks of OpenBao, the
bao agent and the sidecar can be read in one place.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from vault_mcp_sidecar.naming import policy_name

AGENT_ID = "bench-agent"
POLICY_PREFIX = "mcp-agent-"  # the sidecar's CHILD_TOKEN_POLICY_PREFIX default
AGENT_POLICY = policy_name(POLICY_PREFIX, AGENT_ID)
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


def kv_data_path() -> str:
    """The seeded secret's KV v2 API path, as direct clients and the bao agent read it."""
    return f"{KV_MOUNT}/data/{KV_PREFIX}/{AGENT_ID}/{SECRET_PATH}"


def token_role() -> dict[str, Any]:
    """The child-token role of DESIGN §3: exactly the agent policy, not renewable, not orphan."""
    return {
        "allowed_policies": [AGENT_POLICY],
        "orphan": False,
        "renewable": False,
        "token_no_default_policy": True,
        "token_type": "service",
    }


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


def sidecar_env(vault_addr: str, token: str, *, child_tokens: bool) -> dict[str, str]:
    """The standalone sidecar's settings (DESIGN §6): API key auth only, no rate limit.

    devkit's SidecarProcess adds HOST/PORT and the caller's environment minus sidecar settings.
    """
    return {
        "VAULT_ADDR": vault_addr,
        "VAULT_TOKEN": token,
        "KV_MOUNT": KV_MOUNT,
        "DEFAULT_PREFIX": KV_PREFIX,
        "AUTH_API_KEY_ENABLED": "true",
        "AUTH_JWT_ENABLED": "false",
        "AUTH_MTLS_ENABLED": "false",
        "API_KEYS_JSON": json.dumps({API_KEY: AGENT_ID}),
        "CHILD_TOKEN_ENABLED": "true" if child_tokens else "false",
        "CHILD_TOKEN_TTL": CHILD_TOKEN_TTL,
        "CHILD_TOKEN_POLICY_PREFIX": POLICY_PREFIX,
        "RATE_LIMIT_ENABLED": "false",
        "LOG_LEVEL": "warning",
    }
