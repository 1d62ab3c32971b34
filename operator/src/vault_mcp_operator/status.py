"""What a VaultAgent reports about itself: its `status` and the Events the operator posts.

Pure functions, no I/O: the kopf handlers compute a status from an `Outcome` (or a failure)
and patch only the fields that differ, so a periodic reconcile of an unchanged agent writes
nothing to the API server. Conditions follow the Kubernetes convention (`type`, `status`,
`reason`, `message`, `lastTransitionTime`, `observedGeneration`); `lastTransitionTime` moves
only when `status` flips, so "Ready since" stays meaningful across repeated reconciles.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from vault_mcp_operator.names import AgentNames
from vault_mcp_operator.reconcile import Outcome

READY = "Ready"
MAX_MESSAGE = 1024  # a condition or Event message; Vault's error texts can be long


class Reason(StrEnum):
    """`reason` of the Ready condition, and of the Event that reports it."""

    RECONCILED = "Reconciled"
    INVALID_SPEC = "InvalidSpec"
    VAULT_UNAVAILABLE = "VaultUnavailable"
    VAULT_REFUSED = "VaultRefused"
    SECRET_CONFLICT = "SecretConflict"  # noqa: S105 - an Event reason, not a password
    KUBERNETES_ERROR = "KubernetesError"


@dataclass(frozen=True, slots=True)
class Event:
    """One Kubernetes Event to post about the agent."""

    type: str  # Normal | Warning
    reason: str
    message: str


def timestamp(moment: datetime) -> str:
    """RFC 3339 in UTC with a `Z`, to the second: what Kubernetes writes and kubectl reads."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def ready_condition(
    previous: Sequence[Mapping[str, Any]] | None,
    ready: bool,
    reason: Reason,
    message: str,
    generation: int | None,
    now: datetime,
) -> dict[str, Any]:
    """The Ready condition; `lastTransitionTime` is kept unless `status` flips."""
    status = "True" if ready else "False"
    old = find_condition(previous, READY) or {}
    kept = old.get("lastTransitionTime") if old.get("status") == status else None
    condition: dict[str, Any] = {
        "type": READY,
        "status": status,
        "reason": str(reason),
        "message": message[:MAX_MESSAGE],
        "lastTransitionTime": kept or timestamp(now),
    }
    if generation is not None:
        condition["observedGeneration"] = generation
    return condition


def find_condition(
    conditions: Sequence[Mapping[str, Any]] | None, kind: str
) -> Mapping[str, Any] | None:
    for condition in conditions or ():
        if condition.get("type") == kind:
            return condition
    return None


def with_condition(
    conditions: Sequence[Mapping[str, Any]] | None, condition: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """`conditions` with `condition` put in place of the one of its type (others kept)."""
    kept = [dict(c) for c in conditions or () if c.get("type") != condition["type"]]
    return [*kept, dict(condition)]


def ready_status(
    current: Mapping[str, Any],
    names: AgentNames,
    outcome: Outcome,
    generation: int | None,
    now: datetime,
) -> dict[str, Any]:
    """The whole status of an agent whose reconcile succeeded."""
    conditions = current.get("conditions")
    condition = ready_condition(
        conditions, True, Reason.RECONCILED, summary(outcome), generation, now
    )
    status: dict[str, Any] = {
        "agentId": names.subject,
        "policy": names.policy,
        "role": names.approle,
        "credentialsSecret": names.credentials_secret,
        "observedGeneration": generation,
        "conditions": with_condition(conditions, condition),
    }
    if outcome.credentials is not None:
        status["secretIdExpiresAt"] = timestamp(outcome.credentials.credentials.expires_at)
    return status


def failed_status(
    current: Mapping[str, Any],
    reason: Reason,
    message: str,
    generation: int | None,
    now: datetime,
) -> dict[str, Any]:
    """The status after a failed reconcile: Ready=False; what was known before is kept."""
    conditions = current.get("conditions")
    condition = ready_condition(conditions, False, reason, message, generation, now)
    return {
        "observedGeneration": generation,
        "conditions": with_condition(conditions, condition),
    }


def status_patch(current: Mapping[str, Any], desired: Mapping[str, Any]) -> dict[str, Any]:
    """The top-level status fields that differ: {} when nothing would change."""
    return {key: value for key, value in desired.items() if current.get(key) != value}


def summary(outcome: Outcome) -> str:
    """The Ready message: what the agent has, in one line a person can read."""
    creds = outcome.credentials
    expiry = f"; secret_id valid until {timestamp(creds.credentials.expires_at)}" if creds else ""
    return f"Vault policy, token role and AppRole in place{expiry}"


def change_events(outcome: Outcome, *, drift: bool) -> list[Event]:
    """Events for what this reconcile changed; none for an agent that was already right.

    `drift` marks a periodic or resumed reconcile: there every change undoes an edit someone
    made in Vault behind the operator's back, which is worth a Warning.
    """
    events: list[Event] = []
    count = len(outcome.changes)
    if outcome.created:
        events.append(Event("Normal", "Created", f"created {_objects(count)} in Vault"))
    elif count and drift:
        events.append(Event("Warning", "DriftRepaired", f"restored {_changes(outcome)}"))
    elif count:
        events.append(Event("Normal", "Updated", f"updated {_changes(outcome)}"))
    events.extend(_credential_events(outcome))
    return events


def recovery_events(previous: Sequence[Mapping[str, Any]] | None) -> list[Event]:
    """After a successful reconcile: a `Ready` Event if the agent was not Ready before it
    (a first reconcile has no Ready condition yet, and its Created Event says enough)."""
    old = find_condition(previous, READY)
    if old is None or old.get("status") == "True":
        return []
    return [Event("Normal", "Ready", "reconciled after the earlier failure")]


def _credential_events(outcome: Outcome) -> list[Event]:
    creds = outcome.credentials
    if creds is None:
        return []
    events: list[Event] = []
    expiry = timestamp(creds.credentials.expires_at)
    if creds.issued and creds.reason == "rotation due":
        message = f"rotated the secret_id (valid until {expiry}); the old one ends after grace"
        events.append(Event("Normal", "SecretIdRotated", message))
    elif creds.issued:
        message = f"issued a secret_id ({creds.reason}; valid until {expiry})"
        events.append(Event("Normal", "SecretIdIssued", message))
    if creds.destroyed:
        message = f"destroyed {len(creds.destroyed)} secret_id(s) no longer handed out"
        events.append(Event("Normal", "SecretIdDestroyed", message))
    return events


def _objects(count: int) -> str:
    return f"{count} Vault object" + ("" if count == 1 else "s")


def _changes(outcome: Outcome) -> str:
    details = "; ".join(str(change) for change in outcome.changes)
    return f"{_objects(len(outcome.changes))}: {details}"[:MAX_MESSAGE]


def failure_event(reason: Reason, message: str) -> Event:
    return Event("Warning", str(reason), message[:MAX_MESSAGE])


def condition_changed(
    previous: Sequence[Mapping[str, Any]] | None, condition: Mapping[str, Any]
) -> bool:
    """Whether the Ready condition says something new: a failure repeated on every retry is
    reported (as an Event) once, not once per retry."""
    old = find_condition(previous, READY)
    if old is None:
        return True
    return any(old.get(key) != condition.get(key) for key in ("status", "reason", "message"))
