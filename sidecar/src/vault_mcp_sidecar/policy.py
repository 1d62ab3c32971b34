"""The agent policy in HCL: the one source of policy text (DESIGN §3).

Used by `vault-mcp-sidecar policy`, by the demo, and by the operator. Least privilege: the
agent's own KV subtree and its own Transit keys, nothing else.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from vault_mcp_sidecar.naming import (
    InvalidName,
    KvLayout,
    check_prefix,
    check_subject,
    transit_key_name,
    transit_key_prefix,
)
from vault_mcp_sidecar.scopes import ALL_SCOPES, Scope


def agent_policy_hcl(
    subject: str,
    *,
    mount: str = "secret",
    prefix: str = "mcp",
    transit_mount: str = "transit",
    scopes: Iterable[Scope] = ALL_SCOPES,
    transit_keys: Sequence[str] | None = None,
) -> str:
    """HCL for `{policy prefix}{subject}`: KV v2 under the agent's folder, its Transit keys.

    `scopes` narrows the grants to what the agent may ever do (the operator passes a
    VaultAgent's `spec.scopes`); a scope left out removes its capabilities, and a rule left
    with none is dropped. `transit_keys=None` grants every key under the agent's key prefix,
    created on first use (standalone mode); a list (the operator, which creates the keys)
    grants exactly those keys and no key creation.
    """
    check_subject(subject)
    # Mounts and prefix go into the HCL verbatim too: a quote, `*` or `+` in them would widen
    # the grant (or inject rules), so they must be plain path segments like the subject.
    for name, value in (("mount", mount), ("prefix", prefix), ("transit_mount", transit_mount)):
        try:
            check_prefix(value)
        except InvalidName as exc:
            raise InvalidName(f"{name}: {exc}") from None
    granted = frozenset(scopes)
    rules = _kv_rules(f"{mount}/{{op}}/{KvLayout(mount, prefix).folder(subject)}", granted)
    rules += _transit_rules(transit_mount, prefix, subject, granted, transit_keys)
    header = f"# Vault MCP Bridge agent policy for {subject!r}. Generated; do not edit by hand."
    return "\n".join([header, *rules, ""])


def _kv_rules(template: str, scopes: frozenset[Scope]) -> list[str]:
    read, write = Scope.READ in scopes, Scope.WRITE in scopes
    listing, delete = Scope.LIST in scopes, Scope.DELETE in scopes
    data = _caps(("create", write), ("read", read), ("update", write), ("delete", delete))
    data += _caps(("list", listing))
    meta = _caps(("read", read), ("list", listing))
    folder = template.format(op="metadata")
    return _rules(
        (template.format(op="data") + "/*", data),
        (folder, meta),
        (folder + "/*", meta),
        (template.format(op="delete") + "/*", _caps(("update", delete))),
        (template.format(op="undelete") + "/*", _caps(("update", write))),
        (template.format(op="destroy") + "/*", _caps(("update", write))),
    )


def _transit_rules(
    mount: str, prefix: str, subject: str, scopes: frozenset[Scope], keys: Sequence[str] | None
) -> list[str]:
    write, read = Scope.WRITE in scopes, Scope.READ in scopes
    if keys is None:
        # `create` lets the first encrypt make the key (Transit upsert); keys are per agent.
        names = [transit_key_prefix(prefix, subject) + "*"]
        encrypt = _caps(("create", write), ("update", write))
    else:
        names = [transit_key_name(prefix, subject, key) for key in dict.fromkeys(keys)]
        encrypt = _caps(("update", write))
    pairs: list[tuple[str, tuple[str, ...]]] = []
    for name in names:
        pairs.append((f"{mount}/encrypt/{name}", encrypt))
        pairs.append((f"{mount}/decrypt/{name}", _caps(("update", read))))
    return _rules(*pairs)


def _caps(*wanted: tuple[str, bool]) -> tuple[str, ...]:
    return tuple(capability for capability, granted in wanted if granted)


def _rules(*pairs: tuple[str, tuple[str, ...]]) -> list[str]:
    """Rules in the given order; a path left without capabilities gets no rule at all."""
    return [_rule(path, *caps) for path, caps in pairs if caps]


def minter_policy_hcl(role_names: Sequence[str]) -> str:
    """The sidecar's own policy: mint children through the named token roles and keep its
    own token alive — nothing else, so the sidecar's token cannot touch any secret itself.

    The renew/lookup rules matter: without them the sidecar's token could not be renewed and
    the sidecar would have to log in again at every expiry.
    """
    for role in role_names:
        check_prefix(role)  # a role name goes into the HCL path verbatim
    return _minter_policy([f"auth/token/create/{role}" for role in role_names])


def fleet_minter_policy_hcl(role_prefix: str) -> str:
    """The minter policy for one standalone sidecar serving many agents: one glob rule over
    the roles named `<role_prefix><agent>` instead of one rule per agent.

    Vault evaluates a token's policies on every request, so a rule per agent makes each mint
    cost more as agents are added (measured: 5.3 ms per mint with 1,000 listed roles against
    2.1 ms with this one rule, docs/PERFORMANCE.md). It grants no more in effect: such a
    sidecar serves all those agents, and each role still lets a child carry only its own
    agent's policy. Use it only where every role under the prefix is an agent's role.
    """
    check_prefix(role_prefix)
    return _minter_policy([f"auth/token/create/{role_prefix}*"])


def _minter_policy(mint_paths: Sequence[str]) -> str:
    rules = [_rule(path, "update") for path in mint_paths]
    rules.append(_rule("auth/token/renew-self", "update"))
    rules.append(_rule("auth/token/lookup-self", "read"))
    header = "# Vault MCP Bridge sidecar: may only mint agent child tokens. Generated.\n"
    return header + "\n".join(rules)


def _rule(path: str, *capabilities: str) -> str:
    caps = ", ".join(f'"{c}"' for c in capabilities)
    return f'path "{path}" {{\n  capabilities = [{caps}]\n}}\n'
