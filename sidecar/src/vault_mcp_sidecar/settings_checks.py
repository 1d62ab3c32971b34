"""Checks shared by the sidecar's and the operator's settings, and their one-line errors.

Both components read the environment with pydantic-settings and must fail at start with one
line naming the variable; the rules for the variables they share live here, once.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from vault_mcp_sidecar.naming import InvalidName, check_prefix

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
