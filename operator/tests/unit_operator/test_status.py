"""status.py: the Ready condition, the status fields and the Events, from an Outcome."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from vault_mcp_operator.credentials import Credentials
from vault_mcp_operator.names import AgentNames
from vault_mcp_operator.reconcile import CredentialsOutcome, Outcome
from vault_mcp_operator.state import Change, ChangeKind
from vault_mcp_operator.status import (
    MAX_MESSAGE,
    Event,
    Reason,
    change_events,
    condition_changed,
    failed_status,
    failure_event,
    ready_condition,
    ready_status,
    recovery_events,
    status_patch,
    timestamp,
    with_condition,
)

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
LATER = NOW + timedelta(minutes=5)
EXPIRES = NOW + timedelta(hours=24)
CREDS = Credentials(role_id="r", secret_id="s3cr3t-1d", accessor="a", expires_at=EXPIRES)
POLICY_CHANGE = Change(ChangeKind.POLICY, "mcp-agent-team-a.alice", "text differs")


def outcome(
    changes: tuple[Change, ...] = (),
    created: bool = False,
    issued: bool = False,
    reason: str = "",
    destroyed: tuple[str, ...] = (),
) -> Outcome:
    creds = CredentialsOutcome(CREDS, issued, reason, destroyed)
    writes = len(changes) + int(issued) + len(destroyed)
    return Outcome(changes, created, writes, creds)


def test_timestamp_is_rfc3339_utc_to_the_second() -> None:
    assert timestamp(NOW) == "2026-01-02T03:04:05Z"
    assert timestamp(datetime(2026, 1, 2, 4, 4, 5, 999, tzinfo=UTC)) == "2026-01-02T04:04:05Z"


def test_ready_condition_has_every_field() -> None:
    condition = ready_condition(None, True, Reason.RECONCILED, "fine", 3, NOW)
    assert condition == {
        "type": "Ready",
        "status": "True",
        "reason": "Reconciled",
        "message": "fine",
        "lastTransitionTime": "2026-01-02T03:04:05Z",
        "observedGeneration": 3,
    }


def test_last_transition_time_moves_only_when_status_flips() -> None:
    first = ready_condition(None, True, Reason.RECONCILED, "fine", 1, NOW)
    again = ready_condition([first], True, Reason.RECONCILED, "other message", 2, LATER)
    assert again["lastTransitionTime"] == first["lastTransitionTime"]
    failed = ready_condition([again], False, Reason.VAULT_UNAVAILABLE, "down", 2, LATER)
    assert failed["lastTransitionTime"] == timestamp(LATER)


def test_long_messages_are_cut() -> None:
    condition = ready_condition(None, False, Reason.VAULT_REFUSED, "x" * 5000, 1, NOW)
    assert len(condition["message"]) == MAX_MESSAGE
    assert len(failure_event(Reason.VAULT_REFUSED, "x" * 5000).message) == MAX_MESSAGE


def test_with_condition_replaces_its_type_and_keeps_others() -> None:
    other = {"type": "Synced", "status": "True"}
    old = {"type": "Ready", "status": "False"}
    new = {"type": "Ready", "status": "True"}
    assert with_condition([other, old], new) == [other, new]


def test_ready_status(names: AgentNames) -> None:
    status = ready_status({}, names, outcome(), 4, NOW)
    assert status["agentId"] == "team-a.alice"
    assert status["policy"] == status["role"] == names.policy
    assert status["credentialsSecret"] == "alice-vault-approle"
    assert status["secretIdExpiresAt"] == timestamp(EXPIRES)
    assert status["observedGeneration"] == 4
    assert status["conditions"][0]["status"] == "True"


def test_failed_status_keeps_what_was_known(names: AgentNames) -> None:
    ready = ready_status({}, names, outcome(), 1, NOW)
    failed = failed_status(ready, Reason.INVALID_SPEC, "spec.token.ttl: bad", 2, LATER)
    assert set(failed) == {"observedGeneration", "conditions"}
    patched = ready | status_patch(ready, failed)
    assert patched["agentId"] == "team-a.alice"
    assert patched["conditions"][0]["reason"] == "InvalidSpec"


def test_an_unchanged_status_needs_no_patch(names: AgentNames) -> None:
    current = ready_status({}, names, outcome(), 1, NOW)
    assert status_patch(current, ready_status(current, names, outcome(), 1, LATER)) == {}


def test_status_patch_has_only_what_differs() -> None:
    current: dict[str, Any] = {"a": 1, "b": [1], "c": "x"}
    assert status_patch(current, {"a": 1, "b": [2], "d": 0}) == {"b": [2], "d": 0}


def reasons(events: list[Event]) -> list[str]:
    return [event.reason for event in events]


def test_events_for_a_new_agent() -> None:
    events = change_events(
        outcome((POLICY_CHANGE,), created=True, issued=True, reason="none"), drift=False
    )
    assert reasons(events) == ["Created", "SecretIdIssued"]
    assert events[0].message == "created 1 Vault object in Vault"


def test_events_for_an_update_and_for_drift() -> None:
    update = change_events(outcome((POLICY_CHANGE,)), drift=False)
    assert [(e.type, e.reason) for e in update] == [("Normal", "Updated")]
    assert "text differs" in update[0].message
    drift = change_events(outcome((POLICY_CHANGE,)), drift=True)
    assert [(e.type, e.reason) for e in drift] == [("Warning", "DriftRepaired")]


def test_events_for_rotation_and_destruction() -> None:
    events = change_events(
        outcome(issued=True, reason="rotation due", destroyed=("x",)), drift=True
    )
    assert reasons(events) == ["SecretIdRotated", "SecretIdDestroyed"]


def test_no_events_when_nothing_changed() -> None:
    assert change_events(outcome(), drift=True) == []


def test_a_repeated_failure_is_not_news() -> None:
    down = ready_condition(None, False, Reason.VAULT_UNAVAILABLE, "down", 1, NOW)
    assert condition_changed(None, down)
    assert not condition_changed(
        [down], ready_condition([down], False, Reason.VAULT_UNAVAILABLE, "down", 1, LATER)
    )
    refused = ready_condition([down], False, Reason.VAULT_REFUSED, "403", 1, LATER)
    assert condition_changed([down], refused)


def test_a_recovery_is_news_once() -> None:
    down = ready_condition(None, False, Reason.VAULT_UNAVAILABLE, "down", 1, NOW)
    up = ready_condition([down], True, Reason.RECONCILED, "ok", 1, LATER)
    assert recovery_events([down]) == [
        Event("Normal", "Ready", "reconciled after the earlier failure")
    ]
    assert recovery_events([up]) == []  # Ready already: nothing new
    assert recovery_events(None) == []  # a first reconcile: its Created Event says it


def test_event_messages_never_carry_the_secret_id() -> None:
    events = change_events(
        outcome(issued=True, reason="rotation due", destroyed=("acc",)), drift=False
    )
    assert all(CREDS.secret_id not in event.message for event in events)
