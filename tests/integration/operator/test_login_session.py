"""VaultSession against a real OpenBao: the operator's own token is renewed before it runs
out, replaced by a new login when it cannot be renewed, and replaced once when Vault refuses
it (revoked), so a long-running operator never needs a restart for its Vault login."""

from __future__ import annotations

import pytest

from devkit.openbao import OpenBao
from vault_mcp_operator.config import OperatorSettings, load_settings
from vault_mcp_operator.login import VaultSession
from vault_mcp_operator.names import agent_names
from vault_mcp_operator.operator_policy import shipped_policy
from vault_mcp_operator.vault_admin import VaultAdmin


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def approle_settings(vault: OpenBao) -> OperatorSettings:
    """The operator logging in by AppRole with the shipped policy, 60s tokens."""
    vault.write_policy("vault-mcp-operator", shipped_policy())
    role = "auth/approle/role/vault-mcp-operator"
    body = {"token_policies": ["vault-mcp-operator"], "token_ttl": 60, "token_max_ttl": 3600}
    vault.api("POST", role, body)
    role_id = vault.api("GET", f"{role}/role-id")["data"]["role_id"]
    secret_id = vault.api("POST", f"{role}/secret-id", {})["data"]["secret_id"]
    return load_settings(vault_addr=vault.addr, vault_role_id=role_id, vault_secret_id=secret_id)


def _token(session: VaultSession) -> str:
    token: str = session.client().token
    return token


def test_renewed_when_a_third_of_the_ttl_is_left(approle_settings: OperatorSettings) -> None:
    clock = Clock()
    session = VaultSession(approle_settings, clock=clock)
    first = _token(session)
    clock.now += 39
    assert (_token(session), session.renewals) == (first, 0)
    clock.now += 2  # 41s of 60s gone
    assert (_token(session), session.renewals, session.logins) == (first, 1, 1)


def test_a_token_that_cannot_be_renewed_is_replaced(vault: OpenBao) -> None:
    body = {"policies": ["default"], "ttl": "60s", "renewable": False}
    token = vault.api("POST", "auth/token/create", body)["auth"]["client_token"]
    clock = Clock()
    session = VaultSession(load_settings(vault_addr=vault.addr, vault_token=token), clock=clock)
    session.client()
    clock.now += 45
    session.client()
    assert (session.logins, session.renewals) == (2, 0)


def test_a_revoked_token_is_replaced_once(
    vault: OpenBao, approle_settings: OperatorSettings
) -> None:
    session = VaultSession(approle_settings)
    admin = VaultAdmin(session, approle_settings)
    names = agent_names("ns", "session", approle_settings)
    assert admin.read_actual(names).empty
    vault.api("POST", "auth/token/revoke", {"token": _token(session)})
    assert admin.read_actual(names).empty  # 403, a fresh login, the same read again
    assert session.logins == 2
