"""The operator's own Vault login: a token, an AppRole, or Kubernetes auth.

`VAULT_AUTH_METHOD` picks one; unset, it is inferred: `VAULT_TOKEN` -> token, a role_id ->
approle, `VAULT_K8S_ROLE` -> kubernetes. Problems are one line naming the variable.
"""

from __future__ import annotations

from pathlib import Path

import hvac
import requests

from vault_mcp_operator.config import OperatorSettings
from vault_mcp_operator.vault_admin import VaultAdminError, mapped_errors


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
