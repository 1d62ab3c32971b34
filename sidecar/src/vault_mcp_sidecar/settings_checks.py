"""What the sidecar's and the operator's settings share: how to reach Vault, where agents
live in it, the checks on those variables, and one-line errors naming the variable.

Both components read the environment with pydantic-settings; `VaultSettings` is the base of
both, so a shared variable has one name, one default and one check.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from vault_mcp_sidecar.naming import AGENT_POLICY_PREFIX, InvalidName, check_prefix

_HTTP_URL = re.compile(r"https?://[^\s/]+(/\S*)?")
SettingsT = TypeVar("SettingsT", bound=BaseModel)


class ConfigError(Exception):
    """Configuration that cannot work; `str()` is one line naming the variable."""


def empty_is_unset(value: object) -> object:
    """`VAULT_TOKEN=` (say, `${VAULT_TOKEN}` of an unset shell variable) means "not set":
    taken literally it would start with no credential, and an empty path is Path(".")."""
    return None if isinstance(value, str) and not value.strip() else value


def existing_file(value: Path | None) -> Path | None:
    """Checked at start: a missing CA file would otherwise be a traceback at TLS setup."""
    if value is not None and not value.is_file():
        raise ValueError("no such file")
    return value


def http_url(value: str | None) -> str | None:
    if value is not None and not _HTTP_URL.fullmatch(value):
        raise ValueError("must be an http:// or https:// URL")
    return value.rstrip("/") if value else value


def path_segments(value: str) -> str:
    """A mount or prefix: plain path segments (they end up verbatim in policy paths)."""
    try:
        return check_prefix(value)
    except InvalidName as exc:
        raise ValueError(str(exc)) from exc


class VaultSettings(BaseSettings):
    """Vault connection and agent layout; field names are the environment variables."""

    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore", frozen=True)

    vault_addr: str = "http://localhost:8200"
    vault_namespace: str | None = None
    vault_cacert: Path | None = None
    vault_token: SecretStr | None = None
    vault_role_id: SecretStr | None = None
    vault_secret_id: SecretStr | None = None
    vault_role_id_file: Path | None = None
    vault_secret_id_file: Path | None = None
    vault_approle_mount: str = "approle"  # where this component's own AppRole lives
    kv_mount: str = "secret"
    default_prefix: str = "mcp"
    transit_mount: str = "transit"
    child_token_policy_prefix: str = AGENT_POLICY_PREFIX

    @field_validator(
        "vault_token",
        "vault_role_id",
        "vault_secret_id",
        "vault_role_id_file",
        "vault_secret_id_file",
        "vault_namespace",
        "vault_cacert",
        mode="before",
    )
    @classmethod
    def _vault_empty_is_unset(cls, value: object) -> object:
        return empty_is_unset(value)

    @field_validator("vault_cacert")
    @classmethod
    def _vault_cacert_exists(cls, value: Path | None) -> Path | None:
        return existing_file(value)

    @field_validator("vault_addr")
    @classmethod
    def _vault_addr_is_url(cls, value: str) -> str:
        return http_url(value) or value

    @field_validator("kv_mount", "default_prefix", "transit_mount", "vault_approle_mount")
    @classmethod
    def _vault_paths_are_segments(cls, value: str) -> str:
        return path_segments(value)


def load(settings_class: type[SettingsT], **overrides: object) -> SettingsT:
    """Build the settings; raise ConfigError with one line naming the offending variable."""
    try:
        return settings_class(**overrides)
    except ValidationError as exc:
        raise ConfigError(one_line(exc)) from None


def one_line(exc: ValidationError) -> str:
    error = exc.errors(include_url=False, include_input=False)[0]
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["loc"]:
        return f"invalid configuration: {str(error['loc'][0]).upper()}: {message}"
    return f"invalid configuration: {message}"
