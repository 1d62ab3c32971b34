"""All Vault I/O of the operator, through hvac: read an agent's state, write changes,
issue and destroy secret_ids, remove an agent.

Reads are GET/LIST only, so a resync of an unchanged agent makes no write at all. Errors
come out as two kinds (errors.py): `VaultUnavailable` (unreachable, timeout, sealed, 5xx: try
again later) and `VaultRefused` (403, 400, ...: retrying will not help until something
changes).
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import hvac
import hvac.exceptions

from vault_mcp_operator.config import OperatorSettings
from vault_mcp_operator.errors import (
    VaultAdminError,
    VaultForbidden,
    VaultRefused,
    VaultUnavailable,
    mapped_errors,
)
from vault_mcp_operator.login import VaultSession
from vault_mcp_operator.names import AgentNames
from vault_mcp_operator.state import ActualState, Change, ChangeKind, DesiredState, Params

__all__ = [
    "IssuedSecretId",
    "VaultAdmin",
    "VaultAdminError",
    "VaultForbidden",
    "VaultRefused",
    "VaultUnavailable",
]


@dataclass(frozen=True, slots=True)
class IssuedSecretId:
    secret_id: str
    accessor: str
    expires_at: datetime


class VaultAdmin:
    """The operator's Vault boundary.

    `client` is a logged-in hvac client (short-lived use: the CLI), or a `VaultSession`
    (long-running: renews the operator's token, and logs in again once when Vault answers
    403, which is what an expired or revoked token looks like).
    """

    def __init__(self, client: hvac.Client | VaultSession, settings: OperatorSettings) -> None:
        self._session = client if isinstance(client, VaultSession) else None
        self._client = None if self._session else client
        self._settings = settings

    # -- reading -----------------------------------------------------------------------------

    def read_actual(self, names: AgentNames) -> ActualState:
        """The agent's objects as Vault holds them; GET and LIST only."""
        policies = {
            name: text
            for name in (names.policy, names.minter_policy)
            if (text := self._policy_text(name)) is not None
        }
        keys = frozenset(k for k in names.transit_key_names if self._transit_key_exists(k))
        return ActualState(
            policies=policies,
            token_role=self._data(f"auth/token/roles/{names.token_role}"),
            approle=self._data(self._approle_path(names.approle)),
            transit_keys=keys,
        )

    def role_id(self, role: str) -> str:
        data = self._data(f"{self._approle_path(role)}/role-id")
        if data is None:
            raise VaultRefused(f"AppRole {role} does not exist")
        return str(data["role_id"])

    def secret_id_accessors(self, role: str) -> set[str]:
        """Accessors of the role's live secret_ids (LIST; an empty role answers 404)."""
        body = self._call("LIST", f"{self._approle_path(role)}/secret-id")
        keys = (body or {}).get("data", {}).get("keys") or []
        return {str(key) for key in keys}

    # -- writing -----------------------------------------------------------------------------

    def apply(self, change: Change, desired: DesiredState) -> None:
        """Make the one write that `change` stands for, from the desired state."""
        if change.kind is ChangeKind.POLICY:
            body: Params = {"policy": desired.policy_text(change.name)}
            self._write("PUT", f"sys/policies/acl/{change.name}", body)
        elif change.kind is ChangeKind.TOKEN_ROLE:
            self._write("POST", f"auth/token/roles/{change.name}", desired.token_role[1])
        elif change.kind is ChangeKind.APPROLE:
            self._write("POST", self._approle_path(change.name), desired.approle[1])
        else:
            self._write("POST", f"{self._settings.transit_mount}/keys/{change.name}", {})

    def issue_secret_id(self, role: str, ttl: int, now: datetime | None = None) -> IssuedSecretId:
        """A new secret_id for `role`; its expiry comes from the TTL Vault granted."""
        issued_at = now or datetime.now(UTC)
        body = self._write("POST", f"{self._approle_path(role)}/secret-id", {"ttl": ttl})
        data = body["data"]
        return IssuedSecretId(
            secret_id=str(data["secret_id"]),
            accessor=str(data["secret_id_accessor"]),
            expires_at=issued_at + timedelta(seconds=int(data["secret_id_ttl"])),
        )

    def destroy_secret_id(self, role: str, accessor: str) -> None:
        path = f"{self._approle_path(role)}/secret-id-accessor/destroy"
        with contextlib.suppress(VaultRefused):  # already gone: Vault answers 4xx, that is fine
            self._write("POST", path, {"secret_id_accessor": accessor})

    def remove(self, names: AgentNames, delete_data: bool) -> int:
        """Remove the agent from Vault; returns the number of writes. Absent things are fine.

        Policies go first: every token of the agent, parent and children, loses all its
        capabilities at that moment. Then the roles, so no new token can be had; then, with
        `delete_data`, the agent's KV data and Transit keys.
        """
        writes = 0
        for policy in (names.policy, names.minter_policy):
            writes += self._delete(f"sys/policies/acl/{policy}")
        writes += self._delete(self._approle_path(names.approle))  # its secret_ids go too
        writes += self._delete(f"auth/token/roles/{names.token_role}")
        if delete_data:
            writes += self._delete_kv_tree(names.kv_folder)
            writes += sum(self._delete_transit_key(key) for key in names.transit_key_names)
        return writes

    # -- internals ---------------------------------------------------------------------------

    def _approle_path(self, role: str) -> str:
        return f"auth/{self._settings.approle_mount}/role/{role}"

    def _policy_text(self, name: str) -> str | None:
        data = self._data(f"sys/policies/acl/{name}")
        return None if data is None else str(data["policy"])

    def _transit_key_exists(self, key: str) -> bool:
        return self._data(f"{self._settings.transit_mount}/keys/{key}") is not None

    def _delete(self, path: str) -> int:
        self._write("DELETE", path)
        return 1

    def _delete_kv_tree(self, folder: str) -> int:
        """Every secret (all versions and metadata) under `folder`, depth first; the count."""
        mount = self._settings.kv_mount
        body = self._call("LIST", f"{mount}/metadata/{folder}")
        writes = 0
        for key in (body or {}).get("data", {}).get("keys") or []:
            if str(key).endswith("/"):
                writes += self._delete_kv_tree(f"{folder}/{str(key).rstrip('/')}")
            else:
                writes += self._delete(f"{mount}/metadata/{folder}/{key}")
        return writes

    def _delete_transit_key(self, key: str) -> int:
        path = f"{self._settings.transit_mount}/keys/{key}"
        if self._data(path) is None:
            return 0
        self._write("POST", f"{path}/config", {"deletion_allowed": True})
        return 1 + self._delete(path)

    def _data(self, path: str) -> Mapping[str, Any] | None:
        """GET `path`; its `data`, or None if it does not exist."""
        body = self._call("GET", path)
        return None if body is None else body.get("data") or {}

    def _write(self, method: str, path: str, body: Params | None = None) -> dict[str, Any]:
        return self._call(method, path, body) or {}

    def _call(self, method: str, path: str, body: Params | None = None) -> dict[str, Any] | None:
        """One request; the decoded body, {} for 204, None for 404 on a read."""
        try:
            return self._request(self._current_client(), method, path, body)
        except VaultForbidden:
            if self._session is None:
                raise
        # Maybe our own token expired or was revoked: one fresh login, one more try.
        return self._request(self._session.relogin(), method, path, body)

    def _current_client(self) -> hvac.Client:
        return self._session.client() if self._session else self._client

    @staticmethod
    def _request(
        client: hvac.Client, method: str, path: str, body: Params | None
    ) -> dict[str, Any] | None:
        with mapped_errors(method, path):
            try:
                response = client.adapter.request(method, f"/v1/{path}", json=body)
            except hvac.exceptions.InvalidPath:
                if method in ("GET", "LIST", "DELETE"):
                    return None
                raise
        return response if isinstance(response, dict) else {}
