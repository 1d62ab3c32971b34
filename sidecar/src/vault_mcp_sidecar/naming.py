"""Names in Vault, derived from (prefix, subject): the one place they are made.

The operator and the sidecar both import this module, so a policy written by one always
matches the paths used by the other (DESIGN §3).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from vault_mcp_sidecar.paths import PathError, validate_path

# Starts and ends alphanumeric, so a subject can never be "." / ".." or look like a path.
_SUBJECT = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,126}[A-Za-z0-9])?")
_TRANSIT_KEY = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,62}[A-Za-z0-9])?")
# Separates the parts of a derived Transit key name; escaped parts never contain it.
_SEP = "__"


class InvalidName(ValueError):
    """A subject or Transit key name that cannot be used safely in Vault."""


def check_subject(subject: str) -> str:
    """An agent id: 1-128 of `[A-Za-z0-9._-]`, alphanumeric at both ends."""
    if not _SUBJECT.fullmatch(subject):
        raise InvalidName("agent id must be 1-128 of A-Z a-z 0-9 . _ -, alphanumeric at both ends")
    return subject


def check_transit_key(key: str) -> str:
    """A caller's Transit key name: 1-64 of `[A-Za-z0-9._-]`, alphanumeric at both ends."""
    if not _TRANSIT_KEY.fullmatch(key):
        raise InvalidName(
            "transit key must be 1-64 of A-Z a-z 0-9 . _ -, alphanumeric at both ends"
        )
    return key


def policy_name(policy_prefix: str, subject: str) -> str:
    """`{CHILD_TOKEN_POLICY_PREFIX}{subject}`, also the token role and AppRole name."""
    return f"{policy_prefix}{subject}"


def _escape(part: str) -> str:
    # '_' becomes '_U' and '/' becomes '_S': an escaped part then never contains "__" and
    # never ends in '_', so the first "__" after a part is always the separator.
    return part.replace("_", "_U").replace("/", "_S")


def transit_key_prefix(prefix: str, subject: str) -> str:
    """Every Transit key of this agent starts with this; nobody else's does (see _escape)."""
    return f"{_escape(prefix)}{_SEP}{_escape(subject)}{_SEP}"


def transit_key_name(prefix: str, subject: str, key: str) -> str:
    """The Vault Transit key for (prefix, subject, key): injective, per agent."""
    return transit_key_prefix(prefix, subject) + _escape(check_transit_key(key))


@dataclass(frozen=True, slots=True)
class KvLayout:
    """Where an agent's KV v2 data lives: `{mount}/data/{prefix}/{subject}/{path}`."""

    mount: str
    prefix: str

    def folder(self, subject: str) -> str:
        return f"{self.prefix}/{subject}"

    def data(self, subject: str, path: str) -> str:
        return f"{self.mount}/data/{self.folder(subject)}/{path}"

    def metadata(self, subject: str, path: str) -> str:
        return f"{self.mount}/metadata/{self.folder(subject)}/{path}".rstrip("/")

    def versions_op(self, op: str, subject: str, path: str) -> str:
        """`delete` / `undelete` / `destroy` endpoints for specific versions."""
        return f"{self.mount}/{op}/{self.folder(subject)}/{path}"


def check_prefix(prefix: str) -> str:
    """DEFAULT_PREFIX / KV_MOUNT style: one or more safe path segments."""
    try:
        return validate_path(prefix)
    except PathError as exc:
        raise InvalidName(str(exc)) from exc
