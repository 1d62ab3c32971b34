"""Child tokens (DESIGN §3), proven from OpenBao's audit log rather than from the sidecar's
word: the KV request is made with a token holding only the agent policy, minted by the parent.

Two setups: the seed's (only the agent policy exists, the parent may call `auth/token/create`)
and the operator's (a token role `mcp-agent-<id>`, a parent that may only use that role).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from devkit.openbao import OpenBao
from devkit.sidecar import SidecarProcess
from tests.integration.conftest import SidecarFactory
from tests.integration.vault_support import client, unique, vault_status
from vault_mcp_sidecar.policy import fleet_minter_policy_hcl
from vault_mcp_sidecar.vault.child_tokens import TokenType, child_token_fields

POLICY = "mcp-agent-alice"
ROLE_PATH = f"auth/token/create/{POLICY}"
MINTER_POLICY = f'path "{ROLE_PATH}" {{\n  capabilities = ["update"]\n}}\n'


def _accessor_of(openbao: OpenBao, token: str) -> str:
    accessor: str = openbao.api("GET", "auth/token/lookup-self", token=token)["data"]["accessor"]
    return accessor


def _entries(openbao: OpenBao, since: int, kind: str, path: str) -> list[dict[str, Any]]:
    return [
        entry
        for entry in openbao.audit_entries()[since:]
        if entry.get("type") == kind and entry.get("request", {}).get("path") == path
    ]


def _minted(openbao: OpenBao, since: int, path: str) -> dict[str, str]:
    """child accessor -> parent accessor, for each token successfully created at `path`."""
    return {
        entry["response"]["auth"]["accessor"]: entry["auth"]["accessor"]
        for entry in _entries(openbao, since, "response", path)
        if (entry.get("response") or {}).get("auth")
    }


def _write_as_alice(openbao: OpenBao, sidecar: SidecarProcess) -> tuple[str, int]:
    """One KV write through the sidecar; (the Vault path, audit position before it)."""
    since = len(openbao.audit_entries())
    path = f"{unique()}/s"
    with client(sidecar, "alice") as alice:
        response = alice.put(f"/secrets/{path}", json={"data": {"v": "x"}})
    assert response.status_code == 200, response.text
    return f"secret/data/mcp/alice/{path}", since


def _kv_token(openbao: OpenBao, since: int, vault_path: str) -> dict[str, Any]:
    """The `auth` block of the token that made the one KV request to `vault_path`."""
    requests = _entries(openbao, since, "request", vault_path)
    assert len(requests) == 1, requests
    auth: dict[str, Any] = requests[0]["auth"]
    return auth


def _assert_short_lived_child(openbao: OpenBao, accessor: str, ttl: int) -> dict[str, Any]:
    lookup = openbao.api("POST", "auth/token/lookup-accessor", {"accessor": accessor})
    info: dict[str, Any] = lookup["data"]
    assert info["policies"] == [POLICY]
    assert 0 < info["ttl"] <= ttl
    assert info["explicit_max_ttl"] <= ttl
    assert info["renewable"] is False
    assert info["type"] == "service"
    assert vault_status(openbao, "POST", "auth/token/renew-accessor", {"accessor": accessor}) >= 400
    return info


def test_seed_setup_mints_children_with_the_agent_policy(
    openbao: OpenBao, start_sidecar: SidecarFactory
) -> None:
    """Only the policy exists; the parent is the root token: children come from
    `auth/token/create` with `policies=[mcp-agent-alice]`."""
    sidecar = start_sidecar(CHILD_TOKEN_ENABLED="true", CHILD_TOKEN_TTL="30s")
    parent_accessor = _accessor_of(openbao, openbao.token)

    vault_path, since = _write_as_alice(openbao, sidecar)

    auth = _kv_token(openbao, since, vault_path)
    assert auth["policies"] == [POLICY]
    assert auth["token_policies"] == [POLICY]
    assert auth["accessor"] != parent_accessor
    assert _minted(openbao, since, "auth/token/create") == {auth["accessor"]: parent_accessor}
    assert _minted(openbao, since, ROLE_PATH) == {}  # no role in this setup
    _assert_short_lived_child(openbao, auth["accessor"], 30)


def test_every_request_gets_its_own_child(openbao: OpenBao, start_sidecar: SidecarFactory) -> None:
    sidecar = start_sidecar(CHILD_TOKEN_ENABLED="true")
    first_path, first_since = _write_as_alice(openbao, sidecar)
    second_path, second_since = _write_as_alice(openbao, sidecar)
    first = _kv_token(openbao, first_since, first_path)["accessor"]
    second = _kv_token(openbao, second_since, second_path)["accessor"]
    assert first != second


def test_token_reuse_mode_uses_the_parent(openbao: OpenBao, start_sidecar: SidecarFactory) -> None:
    """The contrast: with child tokens off the KV request carries the parent's token."""
    sidecar = start_sidecar(CHILD_TOKEN_ENABLED="false")
    vault_path, since = _write_as_alice(openbao, sidecar)
    assert _kv_token(openbao, since, vault_path)["accessor"] == _accessor_of(openbao, openbao.token)


@contextmanager
def _role_parent(openbao: OpenBao, token_type: str, policies: list[str]) -> Iterator[str]:
    """Token role `mcp-agent-alice` of `token_type` (as the operator writes it), and a non-root
    parent token holding `policies`. Both removed again afterwards."""
    openbao.api(
        "POST",
        f"auth/token/roles/{POLICY}",
        {
            "allowed_policies": [POLICY],
            "renewable": False,
            "token_no_default_policy": True,
            "token_explicit_max_ttl": "5m",
            "token_type": token_type,
            "orphan": False,
        },
    )
    openbao.write_policy("mcp-minter-alice", MINTER_POLICY)
    parent: str = openbao.api("POST", "auth/token/create", {"policies": policies, "ttl": "1h"})[
        "auth"
    ]["client_token"]
    try:
        yield parent
    finally:
        openbao.api("DELETE", f"auth/token/roles/{POLICY}")
        if vault_status(openbao, "GET", "auth/token/lookup-self", token=parent) == 200:
            openbao.api("POST", "auth/token/revoke", {"token": parent})


@pytest.fixture
def token_role_parent(openbao: OpenBao) -> Iterator[str]:
    """The operator's setup: a parent that may do nothing but mint through the role."""
    with _role_parent(openbao, "service", ["mcp-minter-alice"]) as parent:
        yield parent


def test_token_role_setup_mints_children_through_the_role(
    openbao: OpenBao, start_sidecar: SidecarFactory, token_role_parent: str
) -> None:
    parent_accessor = _accessor_of(openbao, token_role_parent)
    # The parent itself may not touch the agent's data, nor mint children freely.
    assert vault_status(openbao, "GET", "secret/metadata/mcp/alice", token=token_role_parent) == 403
    free_mint = {"policies": [POLICY]}
    assert (
        vault_status(openbao, "POST", "auth/token/create", free_mint, token=token_role_parent)
        == 403
    )

    sidecar = start_sidecar(
        VAULT_TOKEN=token_role_parent, CHILD_TOKEN_ENABLED="true", CHILD_TOKEN_TTL="30s"
    )
    vault_path, since = _write_as_alice(openbao, sidecar)

    auth = _kv_token(openbao, since, vault_path)
    assert auth["policies"] == [POLICY]
    assert auth["token_policies"] == [POLICY]
    assert auth["accessor"] != parent_accessor
    assert _minted(openbao, since, ROLE_PATH) == {auth["accessor"]: parent_accessor}
    assert _minted(openbao, since, "auth/token/create") == {}
    info = _assert_short_lived_child(openbao, auth["accessor"], 30)
    assert info["role"] == POLICY
    assert info["path"] == ROLE_PATH

    # Revoking the parent revokes every child: the per-agent kill switch.
    openbao.api("POST", "auth/token/revoke", {"token": token_role_parent})
    gone = {"accessor": auth["accessor"]}
    assert vault_status(openbao, "POST", "auth/token/lookup-accessor", gone) >= 400


@pytest.fixture
def batch_role_parent(openbao: OpenBao) -> Iterator[str]:
    """The operator's setup for `spec.token.childType: batch`: the role is `default-batch`
    (Vault allows no non-orphan role of type `batch`)."""
    with _role_parent(openbao, "default-batch", ["mcp-minter-alice", POLICY]) as parent:
        yield parent


def test_batch_children_carry_the_agent_policy_and_die_with_the_parent(
    openbao: OpenBao, start_sidecar: SidecarFactory, batch_role_parent: str
) -> None:
    sidecar = start_sidecar(
        VAULT_TOKEN=batch_role_parent,
        CHILD_TOKEN_ENABLED="true",
        CHILD_TOKEN_TYPE="batch",
        CHILD_TOKEN_TTL="30s",
    )
    vault_path, since = _write_as_alice(openbao, sidecar)

    auth = _kv_token(openbao, since, vault_path)
    assert auth["token_type"] == "batch"
    assert auth["policies"] == [POLICY]
    assert auth["token_policies"] == [POLICY]
    assert not auth.get("accessor")  # batch tokens have none: nothing stored per mint
    assert [e["auth"]["accessor"] for e in _entries(openbao, since, "request", ROLE_PATH)] == [
        _accessor_of(openbao, batch_role_parent)
    ]

    # The kill switch holds for batch children too: one minted with the sidecar's own request
    # fields stops working the moment its parent is revoked.
    body = {"policies": [POLICY], **child_token_fields("30s", 0, TokenType.BATCH)}
    child = openbao.api("POST", ROLE_PATH, body, token=batch_role_parent)["auth"]["client_token"]
    assert child.startswith("b.")
    probe = f"secret/data/mcp/alice/{unique()}"
    assert vault_status(openbao, "GET", probe, token=child) == 404  # allowed, just absent
    openbao.api("POST", "auth/token/revoke", {"token": batch_role_parent})
    assert vault_status(openbao, "GET", probe, token=child) == 403


def test_fleet_minter_policy_mints_through_agent_roles_only(
    openbao: OpenBao, token_role_parent: str
) -> None:
    """One standalone sidecar for many agents: one glob rule instead of a rule per role."""
    openbao.write_policy("mcp-fleet-minter", fleet_minter_policy_hcl("mcp-agent-"))
    fleet = openbao.api(
        "POST", "auth/token/create", {"policies": ["mcp-fleet-minter"], "ttl": "10m"}
    )["auth"]["client_token"]
    body = {"policies": [POLICY], "ttl": "30s", "no_default_policy": True}
    child = openbao.api("POST", ROLE_PATH, body, token=fleet)["auth"]
    assert child["policies"] == [POLICY]
    # Not outside the agent roles: no free mint, no orphan, no other policy through a role.
    assert vault_status(openbao, "POST", "auth/token/create", body, token=fleet) == 403
    assert vault_status(openbao, "POST", "auth/token/create-orphan", body, token=fleet) == 403
    root = {"policies": ["root"], "ttl": "30s"}
    assert vault_status(openbao, "POST", ROLE_PATH, root, token=fleet) == 400
    assert vault_status(openbao, "GET", "secret/metadata/mcp/alice", token=fleet) == 403
