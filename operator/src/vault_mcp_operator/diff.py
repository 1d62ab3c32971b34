"""Compare the desired state with what Vault holds: the ordered list of writes to make.

Only the fields the operator manages count: Vault returns many more (and omits some that are
zero), and a difference in an unmanaged field must not cause a write, or every resync would
write. Order: policies first, so roles never name a policy that does not exist yet.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

from vault_mcp_operator.state import ActualState, Change, ChangeKind, DesiredState, Params

_CIDR_FIELDS = frozenset({"token_bound_cidrs", "secret_id_bound_cidrs"})


def diff(desired: DesiredState, actual: ActualState) -> list[Change]:
    changes = [_policy_change(name, text, actual.policies) for name, text in desired.policies]
    changes.append(_role_change(ChangeKind.TOKEN_ROLE, desired.token_role, actual.token_role))
    changes.append(_role_change(ChangeKind.APPROLE, desired.approle, actual.approle))
    changes += [
        Change(ChangeKind.TRANSIT_KEY, key, "missing")
        for key in desired.transit_keys
        if key not in actual.transit_keys
    ]
    return [change for change in changes if change is not None]


def _policy_change(name: str, text: str, actual: Mapping[str, str]) -> Change | None:
    if name not in actual:
        return Change(ChangeKind.POLICY, name, "missing")
    if actual[name] != text:
        return Change(ChangeKind.POLICY, name, "text differs")
    return None


def _role_change(
    kind: ChangeKind, desired: tuple[str, Params], actual: Params | None
) -> Change | None:
    name, params = desired
    if actual is None:
        return Change(kind, name, "missing")
    differing = differing_fields(params, actual)
    if differing:
        return Change(kind, name, "differs: " + ", ".join(differing))
    return None


def differing_fields(desired: Params, actual: Params) -> list[str]:
    """Managed fields whose values differ, in the desired order."""
    return [
        key
        for key, value in desired.items()
        if _normal(key, value) != _normal(key, actual.get(key, _zero(value)))
    ]


def _zero(value: object) -> object:
    # Vault leaves out some fields at their zero value (token_num_uses, token_bound_cidrs).
    return type(value)()


def _normal(key: str, value: Any) -> Any:
    if value is None:
        return []  # Vault answers null for some empty lists
    if key in _CIDR_FIELDS and isinstance(value, list):
        # Vault may print 10.0.0.1/32 as 10.0.0.1: compare networks, not spellings.
        return sorted({str(ipaddress.ip_network(str(item), strict=False)) for item in value})
    if isinstance(value, list):
        return sorted(str(item) for item in value)  # policy lists: order has no meaning
    return value
