"""An async HTTP client for the Vault API, used on every request's hot path.

aiohttp with a pooled keep-alive session: measured, hvac in a threadpool or httpx cap a
FastAPI pass-through near 0.1x of direct OpenBao, aiohttp near 0.45x (DESIGN §8).
"""

from __future__ import annotations

import json
import ssl
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp

from vault_mcp_sidecar.vault.errors import VaultError, VaultUnavailable

REQUEST_TIMEOUT_SECONDS = 10.0
_UNAVAILABLE_STATUSES = {502, 503, 504}
# A standby that knows no active node yet (raft electing a leader right after an unseal, or an
# HA cluster failing over) answers 500 with this: an outage to wait out, so 503, not 502.
_NO_ACTIVE_NODE = "active cluster node not found"


class VaultClient:
    """One long-lived session to one Vault address. Create in the app's lifespan."""

    def __init__(
        self, addr: str, *, namespace: str | None = None, cacert: Path | None = None
    ) -> None:
        self.addr = addr.rstrip("/")
        self._namespace = namespace
        self._cacert = cacert
        self._session: aiohttp.ClientSession | None = None
        # Told of every token Vault answers 403 to (see ParentToken); no I/O, never raises.
        self.on_denied: Callable[[str], None] | None = None

    async def start(self) -> None:
        ssl_context = ssl.create_default_context(cafile=self._cacert) if self._cacert else None
        connector = aiohttp.TCPConnector(limit=256, ssl=ssl_context if ssl_context else True)
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_SECONDS),
            json_serialize=json.dumps,
            skip_auto_headers=("User-Agent",),
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def call(
        self,
        method: str,
        path: str,
        token: str | None,
        *,
        body: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """Call `/v1/{path}`; the decoded body ({} for 204), or VaultError / VaultUnavailable."""
        if self._session is None:
            raise VaultUnavailable("Vault client not started")
        headers = self._headers(token)
        try:
            async with self._session.request(
                method, f"{self.addr}/v1/{path}", json=body, params=params, headers=headers
            ) as response:
                raw = await response.read()
                status = response.status
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise VaultUnavailable(f"cannot reach Vault ({type(exc).__name__})") from None
        if status == 403 and token and self.on_denied is not None:
            self.on_denied(token)
        return _decode(status, raw)

    def _headers(self, token: str | None) -> dict[str, str]:
        headers: dict[str, str] = {}
        if token:
            headers["X-Vault-Token"] = token
        if self._namespace:
            headers["X-Vault-Namespace"] = self._namespace
        return headers


def _decode(status: int, raw: bytes) -> dict[str, Any]:
    try:
        decoded: Any = json.loads(raw) if raw else {}
    except ValueError:
        decoded = {}
    payload = decoded if isinstance(decoded, dict) else {}
    if status < 400:
        return payload
    messages = [str(m) for m in payload.get("errors", []) if isinstance(m, str | int)]
    if status in _UNAVAILABLE_STATUSES or (
        status == 500 and any(_NO_ACTIVE_NODE in m for m in messages)
    ):
        raise VaultUnavailable(messages[0] if messages else f"Vault returned {status}")
    raise VaultError(status, messages)
