"""The operator's own Vault login: a token, an AppRole, or Kubernetes auth.

`VAULT_AUTH_METHOD` picks one; unset, it is inferred: `VAULT_TOKEN` -> token, a role_id ->
approle, `VAULT_K8S_ROLE` -> kubernetes. Problems are one line naming the variable.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import hvac
import requests

from vault_mcp_operator.config import OperatorSettings
from vault_mcp_operator.errors import VaultAdminError, mapped_errors

# Renew (or log in again) once less than this fraction of the token's TTL remains.
RENEW_FRACTION = 1 / 3


class LoginError(Exception):
    """The operator cannot log in to Vault; `str()` is one line naming what to fix."""


def auth_method(settings: OperatorSettings) -> str:
    if settings.vault_auth_method:
        return settings.vault_auth_method
    if settings.vault_token is not None:
        return "token"
    if settings.vault_role_id or settings.vault_role_id_file:
        return "approle"
    if settings.vault_k8s_role:
        return "kubernetes"
    raise LoginError(
        "no Vault credentials: set VAULT_TOKEN, VAULT_ROLE_ID(_FILE) + VAULT_SECRET_ID(_FILE), "
        "or VAULT_AUTH_METHOD=kubernetes with VAULT_K8S_ROLE"
    )


def new_client(settings: OperatorSettings, pool_size: int = 10) -> hvac.Client:
    """An hvac client for VAULT_ADDR (not logged in); `pool_size` connections for threads."""
    verify: bool | str = str(settings.vault_cacert) if settings.vault_cacert else True
    session = requests.Session()
    adapter = requests.adapters.HTTPAdapter(pool_connections=1, pool_maxsize=pool_size)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return hvac.Client(
        url=settings.vault_addr,
        namespace=settings.vault_namespace,
        verify=verify,
        timeout=settings.vault_timeout_seconds,
        session=session,
    )


def login(settings: OperatorSettings, pool_size: int = 10) -> hvac.Client:
    """A client logged in by the configured method."""
    client = new_client(settings, pool_size)
    method = auth_method(settings)
    try:
        with mapped_errors("POST", f"login ({method})"):
            _LOGINS[method](client, settings)
    except VaultAdminError as exc:
        raise LoginError(str(exc)) from None
    return client


def _token(client: hvac.Client, settings: OperatorSettings) -> None:
    if settings.vault_token is None:
        raise LoginError("VAULT_AUTH_METHOD=token needs VAULT_TOKEN")
    client.token = settings.vault_token.get_secret_value()
    client.lookup_token()  # fails now, with a clear line, rather than at the first reconcile


def _approle(client: hvac.Client, settings: OperatorSettings) -> None:
    role_id = _secret(settings.vault_role_id, settings.vault_role_id_file, "VAULT_ROLE_ID")
    secret_id = _secret(settings.vault_secret_id, settings.vault_secret_id_file, "VAULT_SECRET_ID")
    client.auth.approle.login(
        role_id=role_id, secret_id=secret_id, mount_point=settings.vault_approle_mount
    )


def _kubernetes(client: hvac.Client, settings: OperatorSettings) -> None:
    if not settings.vault_k8s_role:
        raise LoginError("VAULT_AUTH_METHOD=kubernetes needs VAULT_K8S_ROLE")
    jwt = _read(settings.vault_k8s_token_file, "VAULT_K8S_TOKEN_FILE")
    client.auth.kubernetes.login(
        role=settings.vault_k8s_role, jwt=jwt, mount_point=settings.vault_k8s_mount
    )


_LOGINS = {"token": _token, "approle": _approle, "kubernetes": _kubernetes}


def _secret(value: object, path: Path | None, variable: str) -> str:
    if path is not None:
        return _read(path, f"{variable}_FILE")
    get = getattr(value, "get_secret_value", None)
    if get is None:
        raise LoginError(f"AppRole login needs {variable} or {variable}_FILE")
    return str(get())


def _read(path: Path, variable: str) -> str:
    try:
        text = path.read_text().strip()
    except OSError as exc:
        raise LoginError(f"{variable}: cannot read {path}: {exc.strerror}") from None
    if not text:
        raise LoginError(f"{variable}: {path} is empty")
    return text


class VaultSession:
    """The operator's own login, kept alive for a long-running operator.

    The token is renewed once less than a third of its TTL remains, and replaced by a fresh
    login when it cannot be renewed any more (max TTL) or Vault stops accepting it
    (`relogin`, which VaultAdmin calls once on a 403). Thread-safe; a token without expiry
    (a root or periodic-less static token) is never touched.
    """

    def __init__(
        self,
        settings: OperatorSettings,
        pool_size: int = 10,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._settings = settings
        self._pool_size = pool_size
        self._clock = clock
        self._lock = threading.Lock()
        self._client: hvac.Client | None = None
        self._ttl = 0
        self._renew_at: float | None = None
        self.logins = 0
        self.renewals = 0

    def client(self) -> hvac.Client:
        """A logged-in client whose token has at least a third of its TTL left."""
        with self._lock:
            if self._client is None:
                return self._login()
            if self._renew_at is not None and self._clock() >= self._renew_at:
                return self._renew_or_login(self._client)
            return self._client

    def relogin(self) -> hvac.Client:
        """Log in again now: the token was refused (revoked, expired early)."""
        with self._lock:
            return self._login()

    def _login(self) -> hvac.Client:
        client = login(self._settings, self._pool_size)
        self.logins += 1
        with mapped_errors("GET", "auth/token/lookup-self"):
            data = client.lookup_token()["data"]
        self._schedule(client, int(data.get("ttl") or 0))
        return client

    def _renew_or_login(self, client: hvac.Client) -> hvac.Client:
        try:
            with mapped_errors("POST", "auth/token/renew-self"):
                auth = client.auth.token.renew_self()["auth"]
        except VaultAdminError:
            return self._login()
        ttl = int(auth.get("lease_duration") or 0)
        if ttl < self._ttl * RENEW_FRACTION:  # at its max TTL: renewing no longer helps
            return self._login()
        self.renewals += 1
        self._schedule(client, ttl, keep_ttl=True)
        return client

    def _schedule(self, client: hvac.Client, ttl: int, keep_ttl: bool = False) -> None:
        # A token that is not renewable fails its renewal and is replaced by a new login.
        self._client = client
        if not keep_ttl:
            self._ttl = ttl
        if ttl <= 0:
            self._renew_at = None  # never expires
            return
        self._renew_at = self._clock() + ttl * (1 - RENEW_FRACTION)
