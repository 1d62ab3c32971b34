"""Configuration from the environment (the seed's variables plus DESIGN §6 additions).

A bad value fails at start with one line naming the variable (`ConfigError`), never later on
the first request.
"""

from __future__ import annotations

import ipaddress
import json
import re
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from vault_mcp_sidecar.auth.binding import (
    BindingError,
    check_identities,
    check_subjects,
    effective_scopes,
    read_key_dir,
)
from vault_mcp_sidecar.naming import InvalidName, check_subject
from vault_mcp_sidecar.scopes import Scope, ScopeError, parse_scopes
from vault_mcp_sidecar.settings_checks import (
    ConfigError,
    VaultSettings,
    empty_is_unset,
    http_url,
    load,
)
from vault_mcp_sidecar.vault.child_tokens import TokenType

__all__ = ["ConfigError", "Settings", "load_settings"]

_DURATION = re.compile(r"[1-9][0-9]*(s|m|h)?")
# Values people paste from examples; a sidecar must never run with them.
_PLACEHOLDERS = {"changeme", "change-me", "secret", "password", "dev-secret", "example"}
MIN_HS256_SECRET_BYTES = 32

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class Settings(VaultSettings):
    """Every setting of the sidecar; field names are the environment variables, upper-cased.

    Vault connection, credentials and layout (`VAULT_*`, `KV_MOUNT`, `DEFAULT_PREFIX`,
    `TRANSIT_MOUNT`, `CHILD_TOKEN_POLICY_PREFIX`) come from `VaultSettings`, shared with the
    operator.
    """

    # -- Caller authentication ----------------------------------------------------------------
    auth_api_key_enabled: bool = True
    auth_jwt_enabled: bool = True
    auth_mtls_enabled: bool = False
    api_keys_json: SecretStr | None = None
    jwt_hs256_secret: SecretStr | None = None
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    jwt_algorithms: str = "HS256"
    jwt_jwks_url: str | None = None
    jwt_leeway_seconds: int = Field(default=30, ge=0, le=300)
    jwt_jwks_refresh_cooldown_seconds: float = Field(default=10.0, ge=0, le=3600)
    mtls_identity_header: str = "x-ssl-client-s-dn"
    mtls_verify_header: str = "x-ssl-client-verify"
    mtls_subject_cn_prefix: str = "CN="
    mtls_xfcc_header: str = "x-forwarded-client-cert"
    mtls_trusted_proxies: str = "127.0.0.1/32,::1/128"
    default_scopes: str = "read,write,list,delete"
    agent_id: str | None = None
    agent_scopes: str | None = None
    api_keys_dir: Path | None = None
    jwt_allowed_subjects: str | None = None
    mtls_allowed_identities: str | None = None

    # -- Child tokens -------------------------------------------------------------------------
    child_token_enabled: bool = False
    child_token_ttl: str = "90s"  # noqa: S105 - a duration
    child_token_num_uses: int = Field(default=0, ge=0)
    # batch: no storage write per mint (measured ~24% faster mint+read, docs/PERFORMANCE.md),
    # still dies with the parent; but no accessor, no num_uses, not revocable on its own.
    child_token_type: TokenType = TokenType.SERVICE

    # -- Rate limiting ------------------------------------------------------------------------
    rate_limit_enabled: bool = True
    rate_limit_requests: int = Field(default=60, ge=1)
    rate_limit_window_seconds: int = Field(default=60, ge=1)

    # -- Read cache (read_cache.py) -----------------------------------------------------------
    # Off by default: a change made outside this sidecar is seen only after the TTL.
    read_cache_enabled: bool = False
    read_cache_ttl_seconds: float = Field(default=5.0, gt=0, le=300)
    read_cache_max_entries: int = Field(default=10_000, ge=1, le=1_000_000)

    # -- Server -------------------------------------------------------------------------------
    host: str = "127.0.0.1"
    port: int = Field(default=8089, ge=1, le=65535)
    log_level: Literal["critical", "error", "warning", "info", "debug"] = "info"
    debug_endpoints_enabled: bool = False
    # GET /metrics (Prometheus text, no credential: the sidecar listens on localhost).
    metrics_enabled: bool = True
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)

    @field_validator(
        "agent_id",
        "agent_scopes",
        "api_keys_dir",
        "jwt_allowed_subjects",
        "mtls_allowed_identities",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return empty_is_unset(value)

    @field_validator("api_keys_dir")
    @classmethod
    def _existing_dir(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_dir():
            raise ValueError("no such directory")
        return value

    @field_validator("log_level", "child_token_type", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value

    @field_validator("jwt_jwks_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        return http_url(value)

    @field_validator("child_token_ttl")
    @classmethod
    def _duration(cls, value: str) -> str:
        if not _DURATION.fullmatch(value):
            raise ValueError("must be a duration such as 90s, 15m or 1h")
        return value

    @field_validator("agent_id")
    @classmethod
    def _subject(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return check_subject(value)
        except InvalidName as exc:
            raise ValueError(str(exc)) from exc

    @field_validator("jwt_hs256_secret")
    @classmethod
    def _strong_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        raw = value.get_secret_value()
        if raw.lower() in _PLACEHOLDERS or len(raw.encode()) < MIN_HS256_SECRET_BYTES:
            raise ValueError(f"must be a random secret of at least {MIN_HS256_SECRET_BYTES} bytes")
        return value

    @model_validator(mode="after")
    def _coherent(self) -> Settings:
        _check_vault_credentials(self)
        _check_auth_modes(self)
        # Touch the derived values so their errors surface at start.
        _ = self.trusted_proxies, self.api_keys, self.default_scope_set, self.jwt_algorithm_list
        _ = self.agent_scope_set, self.jwt_allowed_subject_set, self.mtls_allowed_identity_set
        _check_key_dir(self)
        _check_child_tokens(self)
        return self

    # -- Derived values -----------------------------------------------------------------------

    @cached_property
    def trusted_proxies(self) -> tuple[Network, ...]:
        try:
            return tuple(
                ipaddress.ip_network(item.strip(), strict=False)
                for item in self.mtls_trusted_proxies.split(",")
                if item.strip()
            )
        except ValueError as exc:
            raise _field_error("MTLS_TRUSTED_PROXIES", f"not a list of CIDRs ({exc})") from exc

    @cached_property
    def default_scope_set(self) -> frozenset[Scope]:
        try:
            return parse_scopes(self.default_scopes)
        except ScopeError as exc:
            raise _field_error("DEFAULT_SCOPES", str(exc)) from exc

    @cached_property
    def agent_scope_set(self) -> frozenset[Scope] | None:
        """AGENT_SCOPES: the most any caller of this sidecar may get (None: no limit)."""
        if self.agent_scopes is None:
            return None
        try:
            return parse_scopes(self.agent_scopes)
        except ScopeError as exc:
            raise _field_error("AGENT_SCOPES", str(exc)) from exc

    @cached_property
    def caller_default_scopes(self) -> frozenset[Scope]:
        """DEFAULT_SCOPES within AGENT_SCOPES: what a credential naming no scopes gets."""
        return effective_scopes(self.default_scope_set, self.agent_scope_set)

    @cached_property
    def jwt_allowed_subject_set(self) -> frozenset[str] | None:
        try:
            return check_subjects(self.jwt_allowed_subjects)
        except BindingError as exc:
            raise _field_error("JWT_ALLOWED_SUBJECTS", str(exc)) from exc

    @cached_property
    def mtls_allowed_identity_set(self) -> frozenset[str] | None:
        try:
            return check_identities(self.mtls_allowed_identities)
        except BindingError as exc:
            raise _field_error("MTLS_ALLOWED_IDENTITIES", str(exc)) from exc

    @cached_property
    def jwt_algorithm_list(self) -> tuple[str, ...]:
        algs = tuple(a.strip() for a in self.jwt_algorithms.split(",") if a.strip())
        allowed = {"HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "ES256", "ES384", "PS256"}
        bad = [a for a in algs if a not in allowed]
        if not algs or bad:
            raise _field_error("JWT_ALGORITHMS", f"must list algorithms from {sorted(allowed)}")
        return algs

    @cached_property
    def api_keys(self) -> dict[str, tuple[str, frozenset[Scope] | None]]:
        """API key -> (agent id, scopes or None for the default scopes)."""
        if self.api_keys_json is None:
            return {}
        try:
            return _parse_api_keys(self.api_keys_json.get_secret_value())
        except (ValueError, ScopeError, InvalidName) as exc:
            # The message never includes the key material itself.
            raise _field_error("API_KEYS_JSON", str(exc)) from exc


def _parse_api_keys(raw: str) -> dict[str, tuple[str, frozenset[Scope] | None]]:
    try:
        decoded: Any = json.loads(raw)
    except json.JSONDecodeError:
        raise ValueError("is not valid JSON") from None
    if not isinstance(decoded, dict):
        raise ValueError('must be a JSON object {"<api-key>": "<agent-id>"}')
    result: dict[str, tuple[str, frozenset[Scope] | None]] = {}
    for index, (key, entry) in enumerate(decoded.items()):
        if len(key) < 16:
            raise ValueError(f"entry #{index + 1}: API keys must be at least 16 characters")
        result[key] = _api_key_entry(entry, index)
    return result


def _api_key_entry(entry: object, index: int) -> tuple[str, frozenset[Scope] | None]:
    if isinstance(entry, str):
        return check_subject(entry), None
    if isinstance(entry, dict) and isinstance(entry.get("agent"), str):
        scopes = parse_scopes(entry["scopes"]) if "scopes" in entry else None
        return check_subject(entry["agent"]), scopes
    raise ValueError(f'entry #{index + 1}: value must be "<agent-id>" or {{"agent", "scopes"}}')


def _check_vault_credentials(settings: Settings) -> None:
    approle_id = settings.vault_role_id or settings.vault_role_id_file
    approle_secret = settings.vault_secret_id or settings.vault_secret_id_file
    if settings.vault_token is None and not approle_id:
        raise ValueError("set VAULT_TOKEN, or VAULT_ROLE_ID (or _FILE) with VAULT_SECRET_ID")
    if approle_id and not approle_secret:
        raise ValueError("VAULT_ROLE_ID needs VAULT_SECRET_ID (or VAULT_SECRET_ID_FILE)")


def _check_auth_modes(settings: Settings) -> None:
    if not (
        settings.auth_api_key_enabled or settings.auth_jwt_enabled or settings.auth_mtls_enabled
    ):
        raise ValueError("enable at least one of AUTH_API_KEY_ENABLED, AUTH_JWT_ENABLED, ...")
    if settings.auth_jwt_enabled and not (settings.jwt_hs256_secret or settings.jwt_jwks_url):
        raise ValueError("AUTH_JWT_ENABLED=true needs JWT_HS256_SECRET or JWT_JWKS_URL")


def _check_key_dir(settings: Settings) -> None:
    if settings.api_keys_dir is None:
        return
    if settings.agent_id is None:
        raise _field_error("API_KEYS_DIR", "needs AGENT_ID (its keys are that agent's)")
    try:
        _, problems = read_key_dir(settings.api_keys_dir)
    except OSError as exc:
        raise _field_error("API_KEYS_DIR", f"unreadable ({type(exc).__name__})") from exc
    if problems:
        raise _field_error("API_KEYS_DIR", problems[0])


def _check_child_tokens(settings: Settings) -> None:
    if settings.child_token_type is TokenType.BATCH and settings.child_token_num_uses:
        raise _field_error("CHILD_TOKEN_NUM_USES", "must be 0 with CHILD_TOKEN_TYPE=batch")


def _field_error(variable: str, message: str) -> ValueError:
    return ValueError(f"{variable}: {message}")


def load_settings(**overrides: Any) -> Settings:
    """Read the environment; raise ConfigError with one line naming the offending variable."""
    return load(Settings, **overrides)
