"""Pure description of N agents on one sidecar, for the scaling bench (bench/scaling.py).

Each agent has its own API key, its own secret (its own value, in its own folder), its own
policy and child-token role, as a standalone sidecar serving many agents has them. wrk reads
the requests from a file this module writes out (bench/rotate.lua): one line per agent,
`header<TAB>value<TAB>path`, and every request goes to the next agent in turn.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from bench import config
from vault_mcp_sidecar.naming import policy_name

# Token reuse reads every agent's secrets with the sidecar's own token; in this bench it
# holds one policy for all agents' folders instead of 1,000 agent policies.
READER_POLICY = "mcp-bench-reader"


@dataclass(frozen=True, slots=True)
class FleetAgent:
    index: int

    @property
    def name(self) -> str:
        return f"fleet-{self.index:04d}"

    @property
    def api_key(self) -> str:
        return f"bench-fleet-key-{self.index:04d}-0123456789"

    @property
    def policy(self) -> str:
        return policy_name(config.POLICY_PREFIX, self.name)

    @property
    def value(self) -> str:
        """64 characters, different for every agent: a mixed-up answer cannot pass the probe."""
        return f"{self.name}:".ljust(64, "v")

    def kv_data_path(self) -> str:
        return config.kv_data_path(self.name)


def fleet(count: int) -> list[FleetAgent]:
    return [FleetAgent(i) for i in range(count)]


def api_keys_json(agents: Sequence[FleetAgent]) -> str:
    """API_KEYS_JSON for a sidecar serving these agents."""
    return json.dumps({agent.api_key: agent.name for agent in agents})


def reader_policy_hcl() -> str:
    """Read access to every agent's secrets (token reuse): one rule, not one per agent; and,
    as every sidecar token has, looking itself up and renewing itself."""
    rules = (
        (f"{config.KV_MOUNT}/data/{config.KV_PREFIX}/*", "read"),
        ("auth/token/lookup-self", "read"),
        ("auth/token/renew-self", "update"),
    )
    return "".join(f'path "{path}" {{\n  capabilities = ["{cap}"]\n}}\n' for path, cap in rules)


def sidecar_lines(agents: Sequence[FleetAgent]) -> list[str]:
    """wrk request lines for the sidecar: each agent's key, each agent's secret."""
    secret = f"/secrets/{config.SECRET_PATH}"
    return [f"X-API-Key\t{agent.api_key}\t{secret}" for agent in agents]


def direct_lines(agents: Sequence[FleetAgent], token: str) -> list[str]:
    """wrk request lines for direct OpenBao: one token, each agent's secret path."""
    return [f"X-Vault-Token\t{token}\t/v1/{agent.kv_data_path()}" for agent in agents]
