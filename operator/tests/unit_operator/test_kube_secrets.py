"""kube_secrets.py: the credentials Secret's shape, and the patch that keeps it current."""

from __future__ import annotations

import base64
import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from vault_mcp_operator.credentials import Credentials
from vault_mcp_operator.kube_secrets import (
    ACCESSOR,
    EXPIRES_AT,
    PREVIOUS_ACCESSOR,
    ROTATED_AT,
    ForeignSecret,
    Owner,
    _check_ours,
    credentials_from_secret,
    secret_body,
    secret_patch,
)
from vault_mcp_operator.names import AgentNames

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
OWNER = Owner(name="alice", uid="uid-1")
CREDS = Credentials(
    role_id="role-1", secret_id="secret-1", accessor="acc-1", expires_at=NOW + timedelta(hours=1)
)
ROTATED = Credentials(
    role_id="role-1",
    secret_id="secret-2",
    accessor="acc-2",
    expires_at=NOW + timedelta(hours=2),
    previous_accessor="acc-1",
    rotated_at=NOW,
)


def test_secret_body(names: AgentNames) -> None:
    body = secret_body(names, CREDS, OWNER)
    meta = body["metadata"]
    assert (meta["name"], meta["namespace"]) == ("alice-vault-approle", "team-a")
    assert body["data"] == {
        "role_id": base64.b64encode(b"role-1").decode(),
        "secret_id": base64.b64encode(b"secret-1").decode(),
    }
    assert meta["labels"]["app.kubernetes.io/managed-by"] == "vault-mcp-operator"
    assert meta["ownerReferences"] == [
        {
            "apiVersion": "vaultmcp.dev/v1alpha1",
            "kind": "VaultAgent",
            "name": "alice",
            "uid": "uid-1",
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    # Bookkeeping is in annotations, never next to the credentials a pod mounts.
    assert set(meta["annotations"]) == {ACCESSOR, EXPIRES_AT}
    assert "secret-1" not in str(meta)


@pytest.mark.parametrize("creds", [CREDS, ROTATED])
def test_round_trip(names: AgentNames, creds: Credentials) -> None:
    assert credentials_from_secret(secret_body(names, creds, OWNER)) == creds


def test_an_edited_secret_reads_as_no_credentials(names: AgentNames) -> None:
    body = secret_body(names, CREDS, OWNER)
    del body["metadata"]["annotations"][ACCESSOR]
    assert credentials_from_secret(body) is None
    body = secret_body(names, CREDS, OWNER)
    body["data"]["secret_id"] = "not base64!"
    assert credentials_from_secret(body) is None


def test_no_patch_when_the_secret_is_current(names: AgentNames) -> None:
    body = secret_body(names, CREDS, OWNER)
    stored = copy.deepcopy(body)
    stored["metadata"] |= {"resourceVersion": "7", "uid": "x"}  # the API server's own fields
    stored["metadata"]["annotations"]["someone.else/note"] = "kept"
    assert secret_patch(stored, body) == {}


def test_rotation_patch_changes_data_and_bookkeeping(names: AgentNames) -> None:
    current = secret_body(names, CREDS, OWNER)
    patch = secret_patch(current, secret_body(names, ROTATED, OWNER))
    assert patch["data"]["secret_id"] == base64.b64encode(b"secret-2").decode()
    assert patch["metadata"]["annotations"][PREVIOUS_ACCESSOR] == "acc-1"
    assert patch["metadata"]["annotations"][ACCESSOR] == "acc-2"


def test_grace_over_removes_the_previous_accessor(names: AgentNames) -> None:
    current = secret_body(names, ROTATED, OWNER)
    after = Credentials("role-1", "secret-2", "acc-2", ROTATED.expires_at)
    patch = secret_patch(current, secret_body(names, after, OWNER))
    assert patch == {"metadata": {"annotations": {PREVIOUS_ACCESSOR: None, ROTATED_AT: None}}}


def test_a_recreated_agent_takes_its_secret_over(names: AgentNames) -> None:
    current = secret_body(names, CREDS, OWNER)
    patch = secret_patch(current, secret_body(names, CREDS, Owner("alice", "uid-2")))
    assert patch["metadata"]["ownerReferences"][0]["uid"] == "uid-2"


def test_a_secret_the_operator_did_not_create_is_not_taken(names: AgentNames) -> None:
    foreign: dict[str, Any] = {"metadata": {"name": "alice-vault-approle", "labels": {}}}
    with pytest.raises(ForeignSecret, match="not managed by vault-mcp-operator"):
        _check_ours(foreign, names)
