"""Request and response bodies. Limits here are the first line of input validation."""

from __future__ import annotations

import math
import re
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from vault_mcp_sidecar.naming import TRANSIT_KEY_PATTERN

MAX_PLAINTEXT_B64 = 64 * 1024
# Standard base64 with its padding, as `base64.b64decode(validate=True)` accepts it; stated as
# a pattern so the OpenAPI document (and the MCP tool schema) tells callers what is valid.
BASE64_PATTERN = r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$"
_BASE64 = re.compile(BASE64_PATTERN)
# Documented only: `naming.check_transit_key` refuses a bad name with 400, as for paths.
_KEY_DOC: dict[str, Any] = {"pattern": f"^{TRANSIT_KEY_PATTERN}$"}


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class WriteSecretRequest(_Body):
    data: dict[str, Any] = Field(description="Key/value pairs to store as a new version")
    cas: int | None = Field(
        default=None, ge=0, description="Write only if the current version is this (0: new)"
    )

    @field_validator("data")
    @classmethod
    def _plain_json(cls, data: dict[str, Any]) -> dict[str, Any]:
        if not _all_finite(data):
            raise ValueError("data must be plain JSON: NaN and Infinity are not JSON numbers")
        return data


def _all_finite(value: Any) -> bool:
    """No NaN or Infinity anywhere in `value`. Python's JSON parser (and so the request body)
    accepts them, JSON and Vault do not: refuse them here rather than send Vault a body it
    cannot parse. A loop, not recursion: the nesting depth is whatever the parser allowed."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, float) and not math.isfinite(item):
            return False
        if isinstance(item, dict):
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return True


class VersionsRequest(_Body):
    versions: list[Annotated[int, Field(ge=1)]] = Field(min_length=1, max_length=100)


class EncryptRequest(_Body):
    key: str = Field(
        min_length=1,
        max_length=64,
        description="The agent's Transit key name",
        json_schema_extra=_KEY_DOC,
    )
    plaintext: str = Field(
        max_length=MAX_PLAINTEXT_B64,
        description="Base64 plaintext",
        json_schema_extra={"pattern": BASE64_PATTERN},
    )

    @field_validator("plaintext")
    @classmethod
    def _base64(cls, value: str) -> str:
        if not _BASE64.fullmatch(value):
            raise ValueError("plaintext must be base64")
        return value


class DecryptRequest(_Body):
    key: str = Field(min_length=1, max_length=64, json_schema_extra=_KEY_DOC)
    ciphertext: str = Field(
        max_length=2 * MAX_PLAINTEXT_B64, pattern=r"^vault:v[0-9]+:[A-Za-z0-9+/=]+$"
    )


class ErrorBody(BaseModel):
    """Every error but a request validation error (422): `{"detail": "<why>"}`."""

    detail: str = Field(description="Why the request was refused; never a secret value")


class SecretVersion(BaseModel):
    path: str
    version: int | None
    created_time: str | None = None
    deletion_time: str | None = None
    destroyed: bool = False


class Secret(SecretVersion):
    data: dict[str, Any]


class SecretList(BaseModel):
    keys: list[str]


class VersionsResult(BaseModel):
    path: str
    versions: list[int]


class DeleteResult(BaseModel):
    path: str
    deleted: bool = True


class Ciphertext(BaseModel):
    ciphertext: str


class Plaintext(BaseModel):
    plaintext: str


class WhoAmI(BaseModel):
    subject: str
    scopes: list[str]
    auth_mode: str
    identity: str
