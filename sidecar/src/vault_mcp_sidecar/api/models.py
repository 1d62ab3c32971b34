"""Request and response bodies. Limits here are the first line of input validation."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

MAX_PLAINTEXT_B64 = 64 * 1024


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class WriteSecretRequest(_Body):
    data: dict[str, Any] = Field(description="Key/value pairs to store as a new version")
    cas: int | None = Field(
        default=None, ge=0, description="Write only if the current version is this (0: new)"
    )


class VersionsRequest(_Body):
    versions: list[int] = Field(min_length=1, max_length=100)

    @field_validator("versions")
    @classmethod
    def _positive(cls, versions: list[int]) -> list[int]:
        if any(v < 1 for v in versions):
            raise ValueError("versions are positive integers")
        return versions


class EncryptRequest(_Body):
    key: str = Field(min_length=1, max_length=64, description="The agent's Transit key name")
    plaintext: str = Field(max_length=MAX_PLAINTEXT_B64, description="Base64 plaintext")

    @field_validator("plaintext")
    @classmethod
    def _base64(cls, value: str) -> str:
        try:
            base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("plaintext must be base64") from None
        return value


class DecryptRequest(_Body):
    key: str = Field(min_length=1, max_length=64)
    ciphertext: str = Field(
        max_length=2 * MAX_PLAINTEXT_B64, pattern=r"^vault:v[0-9]+:[A-Za-z0-9+/=]+$"
    )


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
