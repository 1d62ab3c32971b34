"""The desired Vault state of one agent: a pure function of its names, spec and settings.

DESIGN §3: the agent policy; a minter policy that may only mint through the agent's token
role; the token role (children carry exactly the agent policy, not renewable, short-lived);
the AppRole (a service token with unlimited uses holding both policies: Vault refuses
children of batch or use-limited tokens); the agent's Transit keys.
"""

from __future__ import annotations

from typing import Any

from vault_mcp_operator.config import OperatorSettings
from vault_mcp_operator.names import AgentNames
from vault_mcp_operator.spec import VaultAgentSpec
from vault_mcp_operator.state import DesiredState
from vault_mcp_sidecar.policy import agent_policy_hcl, minter_policy_hcl


def desired_state(
    names: AgentNames, spec: VaultAgentSpec, settings: OperatorSettings
) -> DesiredState:
    return DesiredState(
        policies=(
            (names.policy, agent_policy(names, spec, settings)),
            (names.minter_policy, minter_policy_hcl([names.token_role])),
        ),
        token_role=(names.token_role, token_role_params(names, spec)),
        approle=(names.approle, approle_params(names, spec)),
        transit_keys=names.transit_key_names,
    )


def agent_policy(names: AgentNames, spec: VaultAgentSpec, settings: OperatorSettings) -> str:
    return agent_policy_hcl(
        names.subject,
        mount=settings.kv_mount,
        prefix=settings.default_prefix,
        transit_mount=settings.transit_mount,
        scopes=spec.scopes,
        transit_keys=spec.transit.keys,
    )


def token_role_params(names: AgentNames, spec: VaultAgentSpec) -> dict[str, Any]:
    """Children minted through the role carry exactly the agent policy and nothing else."""
    return {
        "allowed_policies": [names.policy],
        # A glob here would let a child ask for other policies: managed, so drift is undone.
        "allowed_policies_glob": [],
        "orphan": False,  # children die with the parent: the per-agent kill switch
        "renewable": False,
        "token_explicit_max_ttl": spec.token.child_ttl,
        "token_no_default_policy": True,
        # Vault allows no non-orphan role of type "batch"; "default-batch" lets the sidecar
        # (CHILD_TOKEN_TYPE=batch) ask for batch children that still die with their parent.
        "token_type": "default-batch" if spec.token.child_type == "batch" else "service",
        "token_num_uses": spec.token.child_num_uses,
        "token_period": 0,
        "token_bound_cidrs": list(spec.token.bound_cidrs),
    }


def approle_params(names: AgentNames, spec: VaultAgentSpec) -> dict[str, Any]:
    """The sidecar's login: a service token with unlimited uses (so it may mint children)."""
    cidrs = list(spec.token.bound_cidrs)
    return {
        "token_policies": [names.policy, names.minter_policy],
        "token_no_default_policy": True,
        "token_type": "service",
        "token_num_uses": 0,
        "token_ttl": spec.token.ttl,
        "token_max_ttl": spec.token.max_ttl,
        "token_explicit_max_ttl": 0,
        "token_period": 0,
        "token_bound_cidrs": cidrs,
        "bind_secret_id": True,
        "secret_id_ttl": spec.secret_id.ttl,
        "secret_id_num_uses": 0,
        "secret_id_bound_cidrs": cidrs,
    }
