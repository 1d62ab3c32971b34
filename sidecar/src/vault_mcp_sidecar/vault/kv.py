"""KV v2 operations on one agent's subtree. Paths are validated before they get here."""

from __future__ import annotations

from typing import Any

from vault_mcp_sidecar.naming import KvLayout
from vault_mcp_sidecar.vault.client import VaultClient
from vault_mcp_sidecar.vault.errors import VaultError


class SecretNotFound(Exception):
    """No such secret, or the requested version is deleted or destroyed (404)."""


class CasMismatch(Exception):
    """The `cas` version did not match the current version (409)."""


class KvStore:
    def __init__(self, client: VaultClient, layout: KvLayout) -> None:
        self._client = client
        self._layout = layout

    async def write(
        self, token: str, subject: str, path: str, data: dict[str, Any], cas: int | None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"data": data}
        if cas is not None:
            body["options"] = {"cas": cas}
        try:
            result = await self._client.call(
                "POST", self._layout.data(subject, path), token, body=body
            )
        except VaultError as exc:
            if exc.status == 400 and exc.mentions("check-and-set"):
                raise CasMismatch from None
            raise
        return _version_info(result.get("data") or {})

    async def read(
        self, token: str, subject: str, path: str, version: int | None
    ) -> dict[str, Any]:
        params = {"version": str(version)} if version is not None else None
        try:
            result = await self._client.call(
                "GET", self._layout.data(subject, path), token, params=params
            )
        except VaultError as exc:
            if exc.status == 404:
                raise SecretNotFound from None
            raise
        body = result.get("data") or {}
        if body.get("data") is None:
            raise SecretNotFound  # a deleted or destroyed version answers with metadata only
        return {"data": body["data"], **_version_info(body.get("metadata") or {})}

    async def delete_latest(self, token: str, subject: str, path: str) -> None:
        await self._client.call("DELETE", self._layout.data(subject, path), token)

    async def list_keys(self, token: str, subject: str, prefix: str) -> list[str]:
        try:
            result = await self._client.call("LIST", self._layout.metadata(subject, prefix), token)
        except VaultError as exc:
            if exc.status == 404:
                return []
            raise
        keys = (result.get("data") or {}).get("keys") or []
        return [str(key) for key in keys]

    async def versions_op(
        self, op: str, token: str, subject: str, path: str, versions: list[int]
    ) -> None:
        """`undelete` or `destroy` specific versions."""
        await self._client.call(
            "POST", self._layout.versions_op(op, subject, path), token, body={"versions": versions}
        )


def _version_info(meta: dict[str, Any]) -> dict[str, Any]:
    return {
        "version": meta.get("version"),
        "created_time": meta.get("created_time"),
        "deletion_time": meta.get("deletion_time") or None,
        "destroyed": bool(meta.get("destroyed", False)),
    }
