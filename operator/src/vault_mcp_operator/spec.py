"""The VaultAgent spec (DESIGN §4) as pydantic models, and `parse_spec` with field-path errors.

The CRD schema rejects most bad specs before the operator sees them; this is the second line
(and the only one for the offline `apply -f`): everything is checked again here, and an error
names the field as written in YAML, e.g. `spec.token.ttl: must be a duration such as 90s`.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from enum import StrEnum
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from vault_mcp_operator.durations import DurationError, parse_duration
from vault_mcp_sidecar.naming import InvalidName, check_subject, check_transit_key
from vault_mcp_sidecar.scopes import Scope

MAX_TRANSIT_KEYS = 32
MAX_CIDRS = 32
_K8S_NAME = re.compile(r"[a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?")
_URL = re.compile(r"https?://[^\s/]+(/\S*)?")

_T = TypeVar("_T")

DEFAULT_SCOPES = (Scope.READ, Scope.LIST)  # least privilege: writing must be asked for


class SpecError(ValueError):
    """A spec that can never work; `str()` starts with the field path (`spec.token.ttl: ...`)."""


class DeletionPolicy(StrEnum):
    RETAIN = "Retain"
    DELETE = "Delete"


def _seconds(value: object) -> int:
    if not isinstance(value, str | int):
        raise ValueError("must be a duration such as 90s, 15m or 1h30m")
    try:
        return parse_duration(value)
    except DurationError as exc:
        raise ValueError(str(exc)) from None


Seconds = Annotated[int, BeforeValidator(_seconds)]


def _cidr(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError("must be a CIDR such as 10.0.0.0/8")
    try:
        return str(ipaddress.ip_network(value, strict=True))
    except ValueError:
        raise ValueError(f"{value[:50]!r} is not a CIDR such as 10.0.0.0/8") from None


Cidr = Annotated[str, BeforeValidator(_cidr)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class TransitSpec(_Model):
    keys: tuple[str, ...] = Field(default=(), max_length=MAX_TRANSIT_KEYS)

    @field_validator("keys")
    @classmethod
    def _valid_keys(cls, keys: tuple[str, ...]) -> tuple[str, ...]:
        for key in keys:
            try:
                check_transit_key(key)
            except InvalidName as exc:
                raise ValueError(f"{key[:70]!r}: {exc}") from None
        return _unique(keys, "transit key")


ChildTokenType = Literal["service", "batch"]


class TokenSpec(_Model):
    ttl: Seconds = 15 * 60
    max_ttl: Seconds = Field(default=3600, alias="maxTTL")
    child_ttl: Seconds = Field(default=90, alias="childTTL")
    child_num_uses: int = Field(default=0, ge=0, le=1_000_000, alias="childNumUses")
    child_type: ChildTokenType = Field(default="service", alias="childType")
    bound_cidrs: tuple[Cidr, ...] = Field(default=(), max_length=MAX_CIDRS, alias="boundCIDRs")

    @model_validator(mode="after")
    def _ordered(self) -> TokenSpec:
        if self.ttl > self.max_ttl:
            raise _at("ttl", "must not be longer than maxTTL")
        if self.child_ttl > self.ttl:
            raise _at("childTTL", "must not be longer than ttl")
        if self.child_type == "batch" and self.child_num_uses:
            raise _at("childNumUses", "batch child tokens cannot have childNumUses")
        return self


class SecretIdSpec(_Model):
    ttl: Seconds = 24 * 3600


class SecretRef(_Model):
    name: str

    @field_validator("name")
    @classmethod
    def _k8s_name(cls, value: str) -> str:
        if not _K8S_NAME.fullmatch(value):
            raise ValueError("must be a Kubernetes object name (DNS-1123 subdomain)")
        return value


class ApiKeysSpec(_Model):
    secret_ref: SecretRef = Field(alias="secretRef")


class JwtSpec(_Model):
    issuer: str | None = Field(default=None, min_length=1, max_length=1024)
    audience: str | None = Field(default=None, min_length=1, max_length=1024)
    jwks_url: str | None = Field(default=None, alias="jwksURL")
    subjects: tuple[str, ...] = Field(default=(), max_length=256)

    @field_validator("jwks_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and not _URL.fullmatch(value):
            raise ValueError("must be an http:// or https:// URL")
        return value

    @field_validator("subjects")
    @classmethod
    def _subjects(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        for value in values:
            try:
                check_subject(value)
            except InvalidName as exc:
                raise ValueError(f"{value[:70]!r}: {exc}") from None
        return _unique(values, "subject")


class MtlsSpec(_Model):
    allowed_identities: tuple[str, ...] = Field(
        default=(), max_length=256, alias="allowedIdentities"
    )

    @field_validator("allowed_identities")
    @classmethod
    def _identities(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        for value in values:
            if not value or len(value) > 2048 or any(c.isspace() for c in value):
                raise ValueError("identities are non-empty strings without whitespace")
        return _unique(values, "identity")


class AuthSpec(_Model):
    api_keys: ApiKeysSpec | None = Field(default=None, alias="apiKeys")
    jwt: JwtSpec | None = None
    mtls: MtlsSpec | None = None


class RateLimitSpec(_Model):
    requests: int = Field(default=60, ge=1, le=1_000_000)
    window_seconds: int = Field(default=60, ge=1, le=86_400, alias="windowSeconds")


class VaultAgentSpec(_Model):
    """`spec` of a VaultAgent; durations are held in seconds."""

    scopes: tuple[Scope, ...] = Field(default=DEFAULT_SCOPES, min_length=1)
    transit: TransitSpec = TransitSpec()
    token: TokenSpec = TokenSpec()
    secret_id: SecretIdSpec = Field(default=SecretIdSpec(), alias="secretID")
    auth: AuthSpec = AuthSpec()
    rate_limit: RateLimitSpec = Field(default=RateLimitSpec(), alias="rateLimit")
    deletion_policy: DeletionPolicy = Field(default=DeletionPolicy.RETAIN, alias="deletionPolicy")

    @field_validator("scopes")
    @classmethod
    def _unique_scopes(cls, scopes: tuple[Scope, ...]) -> tuple[Scope, ...]:
        return _unique(scopes, "scope")


class _FieldError(ValueError):
    """A cross-field error that knows the field it is about (relative to its model)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def _at(field: str, message: str) -> _FieldError:
    return _FieldError(field, message)


def _unique(values: tuple[_T, ...], what: str) -> tuple[_T, ...]:
    seen: set[_T] = set()
    for value in values:
        if value in seen:
            raise ValueError(f"{what} {str(value)[:70]!r} is listed twice")
        seen.add(value)
    return values


def parse_spec(raw: Mapping[str, Any] | None) -> VaultAgentSpec:
    """Validate a VaultAgent's `spec`; raise SpecError naming the first bad field."""
    try:
        return VaultAgentSpec.model_validate(dict(raw or {}))
    except ValidationError as exc:
        raise SpecError(_first_error(exc)) from None


def _first_error(exc: ValidationError) -> str:
    error = exc.errors(include_url=False, include_input=False)[0]
    path = "spec" + "".join(
        f"[{part}]" if isinstance(part, int) else f".{part}" for part in error["loc"]
    )
    ctx_error = (error.get("ctx") or {}).get("error")
    if isinstance(ctx_error, _FieldError):
        return f"{path}.{ctx_error.field}: {ctx_error.message}"
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        message = "unknown field"
    elif error["type"] == "too_short":
        message = "must not be empty"
    elif error["type"] == "enum" and error["loc"] and error["loc"][0] == "scopes":
        message = "must be one of read, write, list, delete"
    return f"{path}: {message}"
