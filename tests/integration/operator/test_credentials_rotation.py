"""reconcile's credentials against a real OpenBao: issue, keep, rotate with a grace period,
replace a secret_id that is gone, destroy ones the operator never handed out. Time is
injected (`now`), Vault is real."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from devkit.openbao import OpenBao
from tests.integration.vault_support import vault_status
from vault_mcp_operator.config import OperatorSettings, load_settings
from vault_mcp_operator.credentials import Credentials, FileCredentialStore
from vault_mcp_operator.login import login
from vault_mcp_operator.names import AgentNames, agent_names
from vault_mcp_operator.reconcile import Outcome, reconcile, remove
from vault_mcp_operator.spec import DeletionPolicy, parse_spec
from vault_mcp_operator.vault_admin import VaultAdmin

SPEC = parse_spec({"secretID": {"ttl": "24h"}})


@pytest.fixture
def settings(vault: OpenBao) -> OperatorSettings:
    return load_settings(vault_addr=vault.addr, vault_token=vault.token)


@pytest.fixture
def admin(settings: OperatorSettings) -> VaultAdmin:
    return VaultAdmin(login(settings), settings)


@pytest.fixture
def names(settings: OperatorSettings, request: pytest.FixtureRequest) -> AgentNames:
    return agent_names("rot", request.node.name.replace("_", "-")[:40].strip("-"), settings)


@pytest.fixture
def store(tmp_path: Path) -> FileCredentialStore:
    return FileCredentialStore(tmp_path)


ReconcileAt = Callable[[datetime], Outcome]


@pytest.fixture
def reconcile_at(
    admin: VaultAdmin, store: FileCredentialStore, names: AgentNames, settings: OperatorSettings
) -> ReconcileAt:
    """reconcile() of this test's agent (SPEC, file store) as of the given time."""
    return functools.partial(reconcile, admin, store, names, SPEC, settings)


@pytest.fixture(autouse=True)
def _cleanup(admin: VaultAdmin, names: AgentNames, store: FileCredentialStore) -> Iterator[None]:
    yield
    remove(admin, store, names, DeletionPolicy.DELETE)


def logs_in(vault: OpenBao, creds: Credentials) -> bool:
    body = {"role_id": creds.role_id, "secret_id": creds.secret_id}
    return vault_status(vault, "POST", "auth/approle/login", body) == 200


def test_rotation_keeps_the_old_secret_id_for_the_grace_period(
    vault: OpenBao,
    admin: VaultAdmin,
    store: FileCredentialStore,
    names: AgentNames,
    reconcile_at: ReconcileAt,
) -> None:
    t0 = datetime.now(UTC)
    first = reconcile_at(t0)
    assert first.credentials is not None
    assert (first.credentials.issued, first.credentials.reason) == (True, "none stored")
    original = first.credentials.credentials
    assert original.expires_at == t0 + timedelta(hours=24)
    assert first.credentials.next_due == t0 + timedelta(hours=16)

    quiet = reconcile_at(t0 + timedelta(hours=15))
    assert (quiet.vault_writes, quiet.verb) == (0, "unchanged")

    t1 = t0 + timedelta(hours=16, minutes=1)  # less than a third of 24h left
    rotated = reconcile_at(t1)
    assert rotated.credentials is not None
    assert (rotated.credentials.reason, rotated.vault_writes) == ("rotation due", 1)
    new = rotated.credentials.credentials
    assert (new.previous_accessor, new.rotated_at) == (original.accessor, t1)
    assert new.secret_id != original.secret_id
    assert store.load(names) == new
    assert rotated.credentials.next_due == t1 + timedelta(seconds=300)
    assert logs_in(vault, original)  # still valid: pods have the grace period to switch
    assert logs_in(vault, new)

    in_grace = reconcile_at(t1 + timedelta(seconds=299))
    assert in_grace.vault_writes == 0
    after = reconcile_at(t1 + timedelta(seconds=300))
    assert after.credentials is not None
    assert after.credentials.destroyed == (original.accessor,)
    assert after.vault_writes == 1
    assert not logs_in(vault, original)
    assert logs_in(vault, new)
    stored = store.load(names)
    assert stored is not None
    assert stored.previous_accessor is None
    assert admin.secret_id_accessors(names.approle) == {new.accessor}


def test_a_secret_id_gone_from_vault_is_replaced(
    vault: OpenBao, admin: VaultAdmin, names: AgentNames, reconcile_at: ReconcileAt
) -> None:
    now = datetime.now(UTC)
    outcome = reconcile_at(now)
    assert outcome.credentials is not None
    lost = outcome.credentials.credentials
    admin.destroy_secret_id(names.approle, lost.accessor)  # say, an admin revoked it
    again = reconcile_at(now)
    assert again.credentials is not None
    assert again.credentials.reason == "gone from Vault"
    assert again.credentials.credentials.previous_accessor is None
    assert logs_in(vault, again.credentials.credentials)


def test_secret_ids_the_operator_did_not_issue_are_destroyed(
    vault: OpenBao, names: AgentNames, reconcile_at: ReconcileAt
) -> None:
    now = datetime.now(UTC)
    reconcile_at(now)
    stray = vault.api("POST", f"auth/approle/role/{names.approle}/secret-id", {})["data"]
    outcome = reconcile_at(now)
    assert outcome.credentials is not None
    assert outcome.credentials.destroyed == (stray["secret_id_accessor"],)
    assert not outcome.credentials.issued


def test_a_recreated_approle_gets_new_credentials(
    vault: OpenBao, names: AgentNames, reconcile_at: ReconcileAt
) -> None:
    now = datetime.now(UTC)
    reconcile_at(now)
    vault.api("DELETE", f"auth/approle/role/{names.approle}")
    outcome = reconcile_at(now)
    assert [c.kind for c in outcome.changes] == ["approle"]
    assert outcome.credentials is not None
    assert outcome.credentials.reason.startswith("role_id changed")
    assert logs_in(vault, outcome.credentials.credentials)
