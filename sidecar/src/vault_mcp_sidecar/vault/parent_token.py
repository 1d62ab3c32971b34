"""The sidecar's own Vault token: from `VAULT_TOKEN`, or an AppRole login.

AppRole credentials may be files (`VAULT_ROLE_ID_FILE`, `VAULT_SECRET_ID_FILE`), re-read at
every login so a secret_id rotated by the operator is picked up without a restart. A
background task renews the token at two thirds of its TTL and logs in again when renewal
fails; when Vault is down the next request retries the login instead of failing forever.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from pathlib import Path

from vault_mcp_sidecar.vault.client import VaultClient
from vault_mcp_sidecar.vault.errors import VaultError, VaultLoginFailed, VaultUnavailable

log = logging.getLogger(__name__)
MIN_RENEW_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class AppRoleCredentials:
    mount: str
    role_id: str | None = None
    secret_id: str | None = None
    role_id_file: Path | None = None
    secret_id_file: Path | None = None

    def read(self) -> tuple[str, str]:
        """Current (role_id, secret_id); files win so rotation needs no restart."""
        role_id = _read(self.role_id_file) if self.role_id_file else self.role_id
        secret_id = _read(self.secret_id_file) if self.secret_id_file else self.secret_id
        if not role_id or not secret_id:
            raise VaultLoginFailed("AppRole credentials are empty")
        return role_id, secret_id


def _read(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError as exc:
        raise VaultLoginFailed(f"cannot read {path.name} ({exc.strerror})") from None


@dataclass(slots=True)
class _Lease:
    token: str
    ttl: float
    renewable: bool


class ParentToken:
    """Hands out the current parent token; keeps it alive in the background."""

    def __init__(
        self, client: VaultClient, *, token: str | None, approle: AppRoleCredentials | None
    ) -> None:
        self._client = client
        self._static = token
        self._approle = approle
        self._lease: _Lease | None = None
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        # A token Vault just refused (403). If it is the parent, it may have been revoked: in
        # token-reuse mode nothing else would notice until the next renewal, minutes away.
        self._denied: str | None = None
        client.on_denied = self._note_denied

    async def get(self) -> str:
        lease = self._lease
        if lease is not None and lease.token != self._denied:
            return lease.token
        async with self._lock:
            lease = self._lease
            if lease is not None and lease.token == self._denied:
                if not await self._alive(lease.token):
                    self._lease = None  # revoked or expired: log in again below
                self._denied = None
            if self._lease is None:
                self._lease = await self._acquire()
                self._start_renewal()
            return self._lease.token

    def _note_denied(self, token: str) -> None:
        self._denied = token

    async def _alive(self, token: str) -> bool:
        try:
            await self._client.call("GET", "auth/token/lookup-self", token)
        except VaultError as exc:
            if exc.status == 403:
                return False
            raise
        return True

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _acquire(self) -> _Lease:
        if self._approle is not None:
            return await self._login(self._approle)
        assert self._static is not None
        data = (await self._client.call("GET", "auth/token/lookup-self", self._static))["data"]
        return _Lease(self._static, float(data.get("ttl") or 0), bool(data.get("renewable")))

    async def _login(self, approle: AppRoleCredentials) -> _Lease:
        role_id, secret_id = approle.read()
        body = {"role_id": role_id, "secret_id": secret_id}
        try:
            data = await self._client.call("POST", f"auth/{approle.mount}/login", None, body=body)
        except VaultError as exc:
            if isinstance(exc, VaultUnavailable):
                raise  # an outage, not a refusal
            # Vault says 400 for bad credentials: the caller did nothing wrong, so not a 400.
            raise VaultLoginFailed(f"AppRole login refused ({exc.status})") from None
        auth = data["auth"]
        log.info("logged in to Vault with AppRole", extra={"ttl": auth["lease_duration"]})
        return _Lease(auth["client_token"], float(auth["lease_duration"]), auth["renewable"])

    def _start_renewal(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._renew_forever(), name="vault-token-renewal")

    async def _renew_forever(self) -> None:
        while True:
            lease = self._lease
            if lease is None or lease.ttl <= 0:
                return  # nothing to renew: a token without expiry, or a login is due
            if not lease.renewable and self._approle is None:
                return  # a static token that cannot be renewed simply runs out
            await asyncio.sleep(_renew_delay(lease.ttl))
            await self._renew_once(lease)

    async def _renew_once(self, lease: _Lease) -> None:
        if self._lease is not lease:
            return  # replaced while we slept (a new login): renewing the old one would fail
        try:
            if not lease.renewable:
                raise VaultError(400, ["token not renewable"])
            auth = (await self._client.call("POST", "auth/token/renew-self", lease.token))["auth"]
            renewed = _Lease(lease.token, float(auth["lease_duration"]), auth["renewable"])
        except VaultError as exc:
            log.warning(
                "Vault token renewal failed; logging in again", extra={"status": exc.status}
            )
            await self._relogin()
            return
        if self._approle is not None and renewed.ttl < lease.ttl:
            # Vault cut the renewal short: the token is reaching its max TTL and will die
            # whatever we do. Log in again now, while it still serves requests, rather than
            # renew it into expiry and fail the requests that find it dead.
            log.info("Vault token near its max TTL; logging in again", extra={"ttl": renewed.ttl})
            await self._relogin()
            return
        self._lease = renewed

    async def _relogin(self) -> None:
        if self._approle is None:
            return  # a static token cannot be replaced; requests will report Vault's answer
        try:
            self._lease = await self._login(self._approle)
        except VaultError as exc:
            log.error(
                "Vault login failed; will retry on next request", extra={"status": exc.status}
            )
            self._lease = None


def _renew_delay(ttl: float) -> float:
    """Two thirds into the lease, not sooner than MIN_RENEW_SECONDS (no busy renewing) but
    never so late that a short lease runs out first."""
    return min(max(ttl * 2 / 3, MIN_RENEW_SECONDS), ttl * 5 / 6)
