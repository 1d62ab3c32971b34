"""Reconcile one agent: make Vault match its spec, then make sure it has live credentials.

Level-based and idempotent: read, diff, write only what differs; an unchanged agent costs
reads only. The kopf handlers and the offline CLI both call these two functions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from vault_mcp_operator.config import OperatorSettings
from vault_mcp_operator.credentials import Credentials, CredentialStore
from vault_mcp_operator.desired import desired_state
from vault_mcp_operator.diff import diff
from vault_mcp_operator.names import AgentNames, agent_names
from vault_mcp_operator.rotation import grace_over, next_due, rotation_due
from vault_mcp_operator.spec import DeletionPolicy, SpecError, VaultAgentSpec, parse_spec
from vault_mcp_operator.state import Change
from vault_mcp_operator.vault_admin import VaultAdmin
from vault_mcp_sidecar.naming import InvalidName


@dataclass(frozen=True, slots=True)
class CredentialsOutcome:
    """What happened to the agent's secret_id in this reconcile."""

    credentials: Credentials
    issued: bool = False  # a new secret_id was issued (first one, lost one or rotation)
    reason: str = ""  # why it was issued: "none", "gone from Vault", "rotation due", ...
    destroyed: tuple[str, ...] = ()  # accessors destroyed (grace over, or unknown to us)
    next_due: datetime | None = None  # when to look again: rotation or end of a grace period


@dataclass(frozen=True, slots=True)
class Outcome:
    changes: tuple[Change, ...]
    created: bool  # nothing of the agent existed in Vault before
    vault_writes: int
    credentials: CredentialsOutcome | None = None

    @property
    def verb(self) -> str:
        """`created`, `updated` or `unchanged`: one word for the CLI line and events."""
        if self.created:
            return "created"
        return "updated" if self.vault_writes else "unchanged"


def reconcile(
    admin: VaultAdmin,
    store: CredentialStore | None,
    names: AgentNames,
    spec: VaultAgentSpec,
    settings: OperatorSettings,
    now: datetime,
) -> Outcome:
    """Bring Vault to `spec`; with a store, also keep the agent's credentials live."""
    desired = desired_state(names, spec, settings)
    actual = admin.read_actual(names)
    changes = tuple(diff(desired, actual))
    for change in changes:
        admin.apply(change, desired)
    creds = None
    if store is not None:
        creds = ensure_credentials(admin, store, names, spec.secret_id.ttl, settings, now)
    writes = len(changes) + (_credential_writes(creds) if creds else 0)
    return Outcome(changes, actual.empty, writes, creds)


def _credential_writes(outcome: CredentialsOutcome) -> int:
    return int(outcome.issued) + len(outcome.destroyed)


def ensure_credentials(
    admin: VaultAdmin,
    store: CredentialStore,
    names: AgentNames,
    ttl: int,
    settings: OperatorSettings,
    now: datetime,
) -> CredentialsOutcome:
    """Issue a secret_id when there is none, it is gone, or rotation is due; destroy the
    replaced one after its grace period, and any secret_id of the role we do not know."""
    stored = store.load(names)
    role_id = admin.role_id(names.approle)
    live = admin.secret_id_accessors(names.approle)
    reason = _issue_reason(stored, role_id, live, ttl, settings, now)
    if stored is None or reason:
        creds = _issue(admin, stored, role_id, live, names, ttl, now)
    else:
        creds = stored
    creds, stale = _without_stale(creds, live, settings, now)
    if creds != stored:
        store.save(names, creds)  # the new secret_id is published before any is destroyed
    for accessor in stale:
        admin.destroy_secret_id(names.approle, accessor)
    due = next_due(
        creds.expires_at,
        ttl,
        settings.secret_id_rotate_fraction,
        creds.rotated_at if creds.previous_accessor else None,
        settings.secret_id_grace_seconds,
    )
    return CredentialsOutcome(creds, bool(reason), reason, stale, due)


def _issue_reason(
    stored: Credentials | None,
    role_id: str,
    live: set[str],
    ttl: int,
    settings: OperatorSettings,
    now: datetime,
) -> str:
    """Why a new secret_id is needed, or "" if the stored one is fine."""
    if stored is None:
        return "none stored"
    if stored.role_id != role_id:
        return "role_id changed (AppRole recreated)"
    if stored.accessor not in live:
        return "gone from Vault"
    if rotation_due(stored.expires_at, ttl, settings.secret_id_rotate_fraction, now):
        return "rotation due"
    return ""


def _issue(
    admin: VaultAdmin,
    stored: Credentials | None,
    role_id: str,
    live: set[str],
    names: AgentNames,
    ttl: int,
    now: datetime,
) -> Credentials:
    issued = admin.issue_secret_id(names.approle, ttl, now)
    keep = stored is not None and stored.accessor in live and stored.role_id == role_id
    return Credentials(
        role_id=role_id,
        secret_id=issued.secret_id,
        accessor=issued.accessor,
        expires_at=issued.expires_at,
        # The replaced secret_id keeps working for the grace period, so running pods are not
        # cut off before they have read the new one.
        previous_accessor=stored.accessor if keep and stored else None,
        rotated_at=now if keep else None,
    )


def _without_stale(
    creds: Credentials, live: set[str], settings: OperatorSettings, now: datetime
) -> tuple[Credentials, tuple[str, ...]]:
    """What no one should hold any more: the replaced secret_id after its grace period, and
    secret_ids of the role the operator never handed out (or lost track of). Returns the
    credentials without a previous accessor that is due, and the accessors to destroy."""
    keep = {creds.accessor}
    if creds.previous_accessor is not None:
        rotated_at = creds.rotated_at
        if rotated_at is not None and not grace_over(
            rotated_at, settings.secret_id_grace_seconds, now
        ):
            keep.add(creds.previous_accessor)
        else:
            creds = replace(creds, previous_accessor=None, rotated_at=None)
    return creds, tuple(sorted(live - keep))


def remove(
    admin: VaultAdmin,
    store: CredentialStore | None,
    names: AgentNames,
    deletion_policy: DeletionPolicy,
) -> int:
    """Remove the agent: access ends at once (policies first), then roles, then with
    `Delete` its KV data and Transit keys; the stored credentials last. Idempotent."""
    writes = admin.remove(names, delete_data=deletion_policy is DeletionPolicy.DELETE)
    if store is not None:
        store.delete(names)
    return writes


def removal_target(
    namespace: str, name: str, spec: Mapping[str, Any], settings: OperatorSettings
) -> tuple[AgentNames | None, DeletionPolicy]:
    """What `remove` is to remove for an agent being deleted, and under which policy; None
    for a name no agent could have had (nothing of it exists in Vault). An unreadable spec
    still loses its access, but keeps its data: the operator never deletes data on the
    strength of a spec it cannot read."""
    try:
        parsed = parse_spec(spec)
        keys, policy = parsed.transit.keys, parsed.deletion_policy
    except SpecError:
        keys, policy = (), DeletionPolicy.RETAIN
    try:
        return agent_names(namespace, name, settings, keys), policy
    except InvalidName:
        return None, policy
