"""reconcile.removal_target and the handlers' failure reasons: what a delete removes, and why
a reconcile that could not log in is reported as it is."""

from __future__ import annotations

from typing import Any

import pytest

from vault_mcp_operator.config import OperatorSettings
from vault_mcp_operator.handlers import _login_reason
from vault_mcp_operator.login import LoginError
from vault_mcp_operator.reconcile import removal_target
from vault_mcp_operator.spec import DeletionPolicy
from vault_mcp_operator.status import Reason
from vault_mcp_operator.vault_admin import VaultRefused, VaultUnavailable


def test_a_readable_spec_is_removed_under_its_own_policy(settings: OperatorSettings) -> None:
    spec = {"transit": {"keys": ["payments"]}, "deletionPolicy": "Delete"}
    names, policy = removal_target("team-a", "alice", spec, settings)
    assert names is not None
    assert names.subject == "team-a.alice"
    assert names.transit_key_names == ("mcp__team-a.alice__payments",)
    assert policy is DeletionPolicy.DELETE


def test_an_unreadable_spec_loses_its_access_but_keeps_its_data(
    settings: OperatorSettings,
) -> None:
    spec: dict[str, Any] = {"scopes": ["admin"], "deletionPolicy": "Delete"}
    names, policy = removal_target("team-a", "alice", spec, settings)
    assert names is not None
    assert names.approle == "mcp-agent-team-a.alice"
    assert policy is DeletionPolicy.RETAIN  # not the Delete it asks for: the spec is invalid


def test_a_name_no_agent_could_have_had_has_nothing_to_remove(
    settings: OperatorSettings,
) -> None:
    names, policy = removal_target("team-a", "Alice", {"deletionPolicy": "Delete"}, settings)
    assert names is None
    assert policy is DeletionPolicy.DELETE


@pytest.mark.parametrize(
    ("cause", "reason"),
    [
        (VaultUnavailable("connection refused"), Reason.VAULT_UNAVAILABLE),
        (VaultRefused("permission denied"), Reason.VAULT_REFUSED),
    ],
)
def test_a_failed_login_is_reported_by_its_cause(cause: Exception, reason: Reason) -> None:
    with pytest.raises(LoginError) as caught:
        _fail_login(cause)
    assert _login_reason(caught.value) is reason


def _fail_login(cause: Exception) -> None:
    try:
        raise cause
    except Exception:
        raise LoginError("login failed") from None  # as login.py raises it
