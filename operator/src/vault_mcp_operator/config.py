"""Operator settings from the environment; a bad value is one line naming the variable.

Names match the sidecar's where they mean the same thing (DESIGN §6): `VAULT_ADDR`,
`KV_MOUNT`, `DEFAULT_PREFIX`, `TRANSIT_MOUNT`, `CHILD_TOKEN_POLICY_PREFIX`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from vault_mcp_sidecar.naming import (
    MINTER_POLICY_PREFIX,
    InvalidName,
    check_policy_prefixes,
)
from vault_mcp_sidecar.settings_checks import (
    ConfigError,
    VaultSettings,
    empty_is_unset,
    http_url,
    load,
    path_segments,
)

__all__ = ["ConfigError", "OperatorSettings", "load_settings"]

DEFAULT_SA_TOKEN = Path("/var/run/secrets/kubernetes.io/serviceaccount/token")


class OperatorSettings(VaultSettings):
    """Every setting of the operator; field names are the environment variables, upper-cased.

    Vault connection, credentials and agent layout (`VAULT_*`, `KV_MOUNT`, `DEFAULT_PREFIX`,
    `TRANSIT_MOUNT`, `CHILD_TOKEN_POLICY_PREFIX`) come from `VaultSettings`, shared with the
    sidecar.
    """

    # -- The operator's own Vault login (login.py) ---------------------------------------------
    vault_timeout_seconds: float = Field(default=10.0, gt=0, le=300)
    vault_auth_method: Literal["token", "approle", "kubernetes"] | None = None
    vault_k8s_role: str | None = None
    vault_k8s_mount: str = "kubernetes"
    vault_k8s_token_file: Path = DEFAULT_SA_TOKEN

    # -- Where agents live in Vault (the rest is in VaultSettings) ------------------------------
    minter_policy_prefix: str = MINTER_POLICY_PREFIX
    approle_mount: str = "approle"  # where the agents' AppRoles are written

    # -- secret_id rotation --------------------------------------------------------------------
    # Rotate once less than this fraction of the secret_id's TTL remains.
    secret_id_rotate_fraction: float = Field(default=1 / 3, gt=0, lt=1)
    # The replaced secret_id stays valid this long, so pods pick up the new one first.
    secret_id_grace_seconds: int = Field(default=300, ge=0, le=7 * 24 * 3600)
    # deletionPolicy Delete may remove agents' KV data and Transit keys; off = never (and the
    # operator policy then has no such grant).
    data_deletion_enabled: bool = True

    # -- The injected sidecar (injection.py) and the admission webhook (webhook.py) ------------
    # A plain image name: the chart or the cluster's registry mirror decide where it comes from.
    sidecar_image: str = Field(default="vault-mcp-sidecar:0.1.0", min_length=1)
    sidecar_image_pull_policy: Literal["Always", "IfNotPresent", "Never"] = "IfNotPresent"
    sidecar_cpu_request: str = "50m"
    sidecar_memory_request: str = "64Mi"
    sidecar_cpu_limit: str = "500m"
    sidecar_memory_limit: str = "128Mi"
    # Vault's address as pods see it; unset = VAULT_ADDR (the operator's own view).
    sidecar_vault_addr: str | None = None
    # A Secret (key ca.crt) with the CA that signed Vault's certificate, mounted into sidecars.
    sidecar_vault_ca_secret: str | None = None
    webhook_enabled: bool = False
    webhook_port: int = Field(default=9443, ge=1, le=65535)
    webhook_cert_file: Path = Path("/etc/webhook/tls/tls.crt")
    webhook_key_file: Path = Path("/etc/webhook/tls/tls.key")
    # Unknown or not-Ready agent: admit the pod unmutated (true) or deny it (false).
    webhook_fail_open: bool = False

    @property
    def pod_vault_addr(self) -> str:
        """The address injected sidecars use to reach Vault."""
        return self.sidecar_vault_addr or self.vault_addr

    @field_validator(
        "vault_k8s_role",
        "vault_auth_method",
        "sidecar_vault_addr",
        "sidecar_vault_ca_secret",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return empty_is_unset(value)

    @field_validator("sidecar_vault_addr")
    @classmethod
    def _optional_http_url(cls, value: str | None) -> str | None:
        return http_url(value)

    @field_validator("approle_mount", "vault_k8s_mount")
    @classmethod
    def _segments(cls, value: str) -> str:
        return path_segments(value)

    @model_validator(mode="after")
    def _prefixes(self) -> OperatorSettings:
        try:
            check_policy_prefixes(self.child_token_policy_prefix, self.minter_policy_prefix)
        except InvalidName as exc:
            raise ValueError(f"CHILD_TOKEN_POLICY_PREFIX / MINTER_POLICY_PREFIX: {exc}") from None
        return self


def load_settings(**overrides: Any) -> OperatorSettings:
    """Read the environment; raise ConfigError with one line naming the offending variable."""
    return load(OperatorSettings, **overrides)
