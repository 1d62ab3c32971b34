"""An async HTTP client for the Vault API, used on every request's hot path.

aiohttp with a pooled keep-alive session: measured, hvac in a threadpool or httpx cap a
FastAPI pass-through near 0.1x of direct OpenBao, aiohttp near 0.45x (DESIGN §8).

For the audit trail every call made on behalf of a request carries that request's id as
`X-Request-Id` (OpenBao writes it into its audit log once `sys/config/auditing/request-headers`
names it) and hands the `request_id` of Vault's answer to the request's audit line.
"""

from __future__ import annotations

import json
import ssl
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp

from vault_mcp_sidecar.logs import call_notes_var, request_id_var
from vault_mcp_sidecar.vault.errors import VaultError, VaultUnavailable

REQUEST_TIMEOUT_SECONDS = 10.0
_UNAVAILABLE_STATUSES = {502, 503, 504}

# Told of every Vault round trip: (operation, seconds, Vault unavailable?). No I/O, never raises.
VaultObserver = Callable[[str, float, bool], None]
# A standby that knows no active node yet (raft electing a leader right after an unseal, or an
# HA cluster failing over) answers 500 with this: an outage to wait out, so 503, not 502.
_NO_ACTIVE_NODE = "active cluster node not found"


class VaultClient:
    """One long-lived session to one Vault address. Create in the app's lifespan."""

    def __init__(
        self,
        addr: str,
        *,
        namespace: str | None = None,
        cacert: Path | None = None,
        observer: VaultObserver | None = None,
    ) -> None:
        self.addr = addr.rstrip("/")
        self._namespace = namespace
        self._cacert = cacert
        self._observer = observer
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
        started = time.perf_counter()
        try:
            async with self._session.request(
                method, f"{self.addr}/v1/{path}", json=body, params=params, headers=headers
            ) as response:
                raw = await response.read()
                status = response.status
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            self._observe(method, path, started, unavailable=True)
            raise VaultUnavailable(f"cannot reach Vault ({type(exc).__name__})") from None
        if status == 403 and token and self.on_denied is not None:
            self.on_denied(token)
        try:
            payload = _decode(status, raw)
        except VaultUnavailable:
            self._observe(method, path, started, unavailable=True)  # sealed, standby, 5xx
            raise
        except VaultError:
            self._observe(method, path, started, unavailable=False)
            raise
        self._observe(method, path, started, unavailable=False)
        _note_request_id(payload)
        return payload

    def _observe(self, method: str, path: str, started: float, *, unavailable: bool) -> None:
        if self._observer is not None:
            seconds = time.perf_counter() - started
            self._observer(vault_operation(method, path), seconds, unavailable)

    def _headers(self, token: str | None) -> dict[str, str]:
        headers: dict[str, str] = {}
        if token:
            headers["X-Vault-Token"] = token
        if self._namespace:
            headers["X-Vault-Namespace"] = self._namespace
        request_id = request_id_var.get()
        if request_id:  # validated by the middleware: [A-Za-z0-9._-]{1,64}
            headers["X-Request-Id"] = request_id
        return headers


def _note_request_id(payload: dict[str, Any]) -> None:
    notes = call_notes_var.get()
    if notes is not None:
        request_id = payload.get("request_id")
        if isinstance(request_id, str) and request_id:
            notes.vault_request_ids.append(request_id)


# Second path segment (after the mount) -> the KV v2 or Transit operation, by HTTP method.
_MOUNT_OPERATIONS: dict[str, dict[str, str]] = {
    "data": {"GET": "kv_read", "POST": "kv_write", "PUT": "kv_write", "DELETE": "kv_delete"},
    "metadata": {"LIST": "kv_list", "GET": "kv_metadata", "DELETE": "kv_delete"},
    "delete": {"POST": "kv_delete", "PUT": "kv_delete"},
    "undelete": {"POST": "kv_undelete", "PUT": "kv_undelete"},
    "destroy": {"POST": "kv_destroy", "PUT": "kv_destroy"},
    "encrypt": {"POST": "transit_encrypt", "PUT": "transit_encrypt"},
    "decrypt": {"POST": "transit_decrypt", "PUT": "transit_decrypt"},
}
_TOKEN_OPERATIONS = (
    ("create", "token_create"),
    ("renew", "renew"),
    ("lookup", "lookup"),
    ("revoke", "revoke"),
)


def vault_operation(method: str, path: str) -> str:
    """A small fixed name for a Vault API call (a metric label): never a path, which would
    carry agent and secret names. Anything not recognised is `other`."""
    if path.startswith("auth/"):
        if path.startswith("auth/token/"):
            action = path[len("auth/token/") :]
            return next(
                (op for prefix, op in _TOKEN_OPERATIONS if action.startswith(prefix)), "other"
            )
        return "login" if path.endswith("/login") else "other"
    # The mount may itself have several segments (`team/kv`): the first known word after it
    # names the operation; secret names come after that and are never looked at.
    for segment in path.split("/", 4)[1:4]:
        operations = _MOUNT_OPERATIONS.get(segment)
        if operations is not None:
            return operations.get(method, "other")
    return "other"


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
