"""operator_policy: the shipped file is the function's output; least privilege by shape."""

from __future__ import annotations

import re

from vault_mcp_operator.config import OperatorSettings
from vault_mcp_operator.operator_policy import operator_policy_hcl, shipped_policy

_RULE = re.compile(r'path "([^"]*)" \{\s*capabilities = \[([^\]]*)\]\s*\}')


def rules(hcl: str) -> dict[str, set[str]]:
    return {m[1]: {c.strip().strip('"') for c in m[2].split(",")} for m in _RULE.finditer(hcl)}


def test_shipped_file_is_the_default_policy(settings: OperatorSettings) -> None:
    assert shipped_policy() == operator_policy_hcl(settings)


def test_exactly_the_agent_prefixes(settings: OperatorSettings) -> None:
    assert rules(operator_policy_hcl(settings)) == {
        "sys/policies/acl/mcp-agent-*": {"create", "read", "update", "delete"},
        "sys/policies/acl/mcp-minter-*": {"create", "read", "update", "delete"},
        "auth/token/roles/mcp-agent-*": {"create", "read", "update", "delete"},
        "auth/approle/role/mcp-agent-*": {"create", "read", "update", "delete", "list"},
        "transit/keys/mcp__*": {"create", "read", "update", "delete"},
        "secret/metadata/mcp/*": {"list", "delete"},
        "auth/token/lookup-self": {"read"},
        "auth/token/renew-self": {"update"},
    }


def test_never_sudo_sys_auth_or_mounts(settings: OperatorSettings) -> None:
    for path, caps in rules(operator_policy_hcl(settings)).items():
        assert not caps & {"sudo", "deny"}
        assert not path.startswith(("sys/auth", "sys/mounts", "sys/policy/", "auth/token/create"))


def test_settings_shape_the_policy(settings: OperatorSettings) -> None:
    custom = settings.model_copy(
        update={
            "kv_mount": "kv",
            "default_prefix": "agents",
            "transit_mount": "tr",
            "approle_mount": "ar",
            "child_token_policy_prefix": "ai-",
            "minter_policy_prefix": "mint-",
            "data_deletion_enabled": False,
        }
    )
    paths = set(rules(operator_policy_hcl(custom)))
    assert {
        "sys/policies/acl/ai-*",
        "sys/policies/acl/mint-*",
        "auth/ar/role/ai-*",
        "tr/keys/agents__*",
    } <= paths
    assert not any(path.startswith("kv/") for path in paths)  # no data deletion, no grant
