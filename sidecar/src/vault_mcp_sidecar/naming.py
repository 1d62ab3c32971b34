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
TRANSIT_KEY_PATTERN = r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,62}[A-Za-z0-9])?"
_TRANSIT_KEY = re.compile(TRANSIT_KEY_PATTERN)
# Separates the parts of a derived Transit key name; escaped parts never contain it.
_SEP = "__"
# Kubernetes object names the agent id is made of (RFC 1123 label: no dots, so
# "{namespace}.{name}" splits back unambiguously).
_DNS_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
# Default prefixes of the two policies the operator writes per agent. They must differ and
# neither may start with the other (`check_policy_prefixes`), so no agent policy name can ever
# equal another agent's minter policy name (agent `ns.x-minter` vs the minter of `ns.x`).
AGENT_POLICY_PREFIX = "mcp-agent-"
MINTER_POLICY_PREFIX = "mcp-minter-"


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


def check_dns_label(value: str) -> str:
    """A Kubernetes namespace or VaultAgent name: an RFC 1123 label (1-63 of a-z 0-9 -)."""
    if not _DNS_LABEL.fullmatch(value):
        raise InvalidName(
            "must be a DNS-1123 label: 1-63 of a-z 0-9 -, alphanumeric at both ends, no dots"
        )
    return value


def agent_id(namespace: str, name: str) -> str:
    """The subject of a VaultAgent: `{namespace}.{name}`, always derived (DESIGN §3).

    Both parts are DNS-1123 labels, so the id has exactly one dot and names exactly one object.
    """
    try:
        check_dns_label(namespace)
    except InvalidName as exc:
        raise InvalidName(f"namespace {namespace[:70]!r}: {exc}") from None
    try:
        check_dns_label(name)
    except InvalidName as exc:
        raise InvalidName(f"name {name[:70]!r}: {exc}") from None
    return check_subject(f"{namespace}.{name}")


def minter_policy_name(subject: str, minter_prefix: str = MINTER_POLICY_PREFIX) -> str:
    """`{minter prefix}{subject}`: the per-agent policy that may only mint through its role."""
    return f"{minter_prefix}{check_subject(subject)}"


def check_policy_prefixes(agent_prefix: str, minter_prefix: str) -> None:
    """Agent and minter policy names must live in disjoint name spaces.

    With distinct prefixes where neither starts with the other, `agent_prefix + s1` can never
    equal `minter_prefix + s2`, whatever the subjects: the strings differ within the shorter
    prefix. (Equal or nested prefixes would let a crafted agent name claim another's policy.)
    """
    for name, value in (("agent", agent_prefix), ("minter", minter_prefix)):
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", value):
            raise InvalidName(f"{name} policy prefix must be [A-Za-z0-9._-], not empty")
    if agent_prefix.startswith(minter_prefix) or minter_prefix.startswith(agent_prefix):
        raise InvalidName(
            f"policy prefixes {agent_prefix!r} and {minter_prefix!r} overlap: "
            "neither may start with the other"
        )


def _escape(part: str) -> str:
    # '_' becomes '_U' and '/' becomes '_S': an escaped part then never contains "__" and
    # never ends in '_', so the first "__" after a part is always the separator.
    return part.replace("_", "_U").replace("/", "_S")


def transit_keys_prefix(prefix: str) -> str:
    """Every agent's Transit keys (under this DEFAULT_PREFIX) start with this: the operator's
    own policy may manage keys under it and no others."""
    return f"{_escape(prefix)}{_SEP}"


def transit_key_prefix(prefix: str, subject: str) -> str:
    """Every Transit key of this agent starts with this; nobody else's does (see _escape)."""
    return f"{transit_keys_prefix(prefix)}{_escape(subject)}{_SEP}"


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
