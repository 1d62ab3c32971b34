"""Every name one VaultAgent has in Vault and Kubernetes, derived in one place.

Built from `vault_mcp_sidecar.naming` (the names the sidecar uses too), so operator and
sidecar can never disagree about a policy, role or key name.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from vault_mcp_operator.config import OperatorSettings
from vault_mcp_sidecar.naming import (
    KvLayout,
    agent_id,
    minter_policy_name,
    policy_name,
    transit_key_name,
)

CREDENTIALS_SECRET_SUFFIX = "-vault-approle"  # noqa: S105 - a name suffix


@dataclass(frozen=True, slots=True)
class AgentNames:
    """Names of one agent. `policy` is also its token role and AppRole role name (DESIGN §3).

    `transit_keys` maps each key of `spec.transit.keys` to its Vault Transit key name.
    """

    namespace: str
    name: str
    subject: str
    policy: str
    minter_policy: str
    kv_folder: str  # `{DEFAULT_PREFIX}/{subject}` inside KV_MOUNT
    transit_keys: tuple[tuple[str, str], ...]
    credentials_secret: str

    @property
    def token_role(self) -> str:
        return self.policy

    @property
    def approle(self) -> str:
        return self.policy

    @property
    def transit_key_names(self) -> tuple[str, ...]:
        """The Vault names of the agent's Transit keys, in spec order."""
        return tuple(vault_name for _, vault_name in self.transit_keys)


def agent_names(
    namespace: str, name: str, settings: OperatorSettings, transit_keys: Iterable[str] = ()
) -> AgentNames:
    """Names for VaultAgent `namespace/name`; raises InvalidName for a non-DNS-1123 name."""
    subject = agent_id(namespace, name)
    prefix = settings.default_prefix
    return AgentNames(
        namespace=namespace,
        name=name,
        subject=subject,
        policy=policy_name(settings.child_token_policy_prefix, subject),
        minter_policy=minter_policy_name(subject, settings.minter_policy_prefix),
        kv_folder=KvLayout(settings.kv_mount, prefix).folder(subject),
        transit_keys=tuple((key, transit_key_name(prefix, subject, key)) for key in transit_keys),
        credentials_secret=f"{name}{CREDENTIALS_SECRET_SUFFIX}",
    )
