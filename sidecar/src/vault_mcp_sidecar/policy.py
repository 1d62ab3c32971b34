"""The agent policy in HCL: the one source of policy text (DESIGN §3).

Used by `vault-mcp-sidecar policy`, by the demo, and by the operator. Least privilege: the
agent's own KV subtree and its own Transit keys, nothing else.
"""

from __future__ import annotations

from collections.abc import Sequence

from vault_mcp_sidecar.naming import (
    InvalidName,
    KvLayout,
    check_prefix,
    check_subject,
    transit_key_prefix,
)


def agent_policy_hcl(
    subject: str, *, mount: str = "secret", prefix: str = "mcp", transit_mount: str = "transit"
) -> str:
    """HCL for `{policy prefix}{subject}`: KV v2 under the agent's folder, its Transit keys."""
    check_subject(subject)
    # Mounts and prefix go into the HCL verbatim too: a quote, `*` or `+` in them would widen
    # the grant (or inject rules), so they must be plain path segments like the subject.
    for name, value in (("mount", mount), ("prefix", prefix), ("transit_mount", transit_mount)):
        try:
            check_prefix(value)
        except InvalidName as exc:
            raise InvalidName(f"{name}: {exc}") from None
    kv = KvLayout(mount, prefix)
    folder = kv.folder(subject)
    keys = transit_key_prefix(prefix, subject)
    return "\n".join(
        [
            f"# Vault MCP Bridge agent policy for {subject!r}. Generated; do not edit by hand.",
            _rule(f"{mount}/data/{folder}/*", "create", "read", "update", "delete", "list"),
            _rule(f"{mount}/metadata/{folder}", "read", "list"),
            _rule(f"{mount}/metadata/{folder}/*", "read", "list"),
            _rule(f"{mount}/delete/{folder}/*", "update"),
            _rule(f"{mount}/undelete/{folder}/*", "update"),
            _rule(f"{mount}/destroy/{folder}/*", "update"),
            # `create` lets the first encrypt make the key (Transit upsert); keys are per agent.
            _rule(f"{transit_mount}/encrypt/{keys}*", "create", "update"),
            _rule(f"{transit_mount}/decrypt/{keys}*", "update"),
            "",
        ]
    )


def minter_policy_hcl(role_names: Sequence[str]) -> str:
    """The sidecar's own policy: mint children through the named token roles and keep its
    own token alive — nothing else, so the sidecar's token cannot touch any secret itself.

    The renew/lookup rules matter: without them the sidecar's token could not be renewed and
    the sidecar would have to log in again at every expiry.
    """
    for role in role_names:
        check_prefix(role)  # a role name goes into the HCL path verbatim
    rules = [_rule(f"auth/token/create/{role}", "update") for role in role_names]
    rules.append(_rule("auth/token/renew-self", "update"))
    rules.append(_rule("auth/token/lookup-self", "read"))
    header = "# Vault MCP Bridge sidecar: may only mint agent child tokens. Generated.\n"
    return header + "\n".join(rules)


def _rule(path: str, *capabilities: str) -> str:
    caps = ", ".join(f'"{c}"' for c in capabilities)
    return f'path "{path}" {{\n  capabilities = [{caps}]\n}}\n'
