"""What Vault should hold for one agent, and what it was found to hold: plain data.

Role parameters are kept in the exact shape Vault returns on read (durations in seconds,
lists of strings), so `diff` can compare field by field without translating.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

Params = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class DesiredState:
    """Everything the operator writes for one agent (`desired.desired_state`)."""

    policies: tuple[tuple[str, str], ...]  # (policy name, HCL): the agent's, then the minter's
    token_role: tuple[str, Params]  # (name, parameters) of auth/token/roles/<name>
    approle: tuple[str, Params]  # (name, parameters) of auth/<approle mount>/role/<name>
    transit_keys: tuple[str, ...]  # Vault names of the Transit keys to create

    def policy_text(self, name: str) -> str:
        return dict(self.policies)[name]


@dataclass(frozen=True, slots=True)
class ActualState:
    """What `VaultAdmin.read_actual` found; absent objects are missing / None."""

    policies: Mapping[str, str] = field(default_factory=dict)  # name -> text, if it exists
    token_role: Params | None = None
    approle: Params | None = None
    transit_keys: frozenset[str] = frozenset()  # the desired ones that exist

    @property
    def empty(self) -> bool:
        """Nothing of this agent exists in Vault: a first apply creates it."""
        return not (self.policies or self.token_role or self.approle or self.transit_keys)


class ChangeKind(StrEnum):
    POLICY = "policy"
    TOKEN_ROLE = "token_role"  # noqa: S105 - a kind, not a secret
    APPROLE = "approle"
    TRANSIT_KEY = "transit_key"


@dataclass(frozen=True, slots=True)
class Change:
    """One write that brings Vault to the desired state; `reason` says why, for logs/events."""

    kind: ChangeKind
    name: str
    reason: str

    def __str__(self) -> str:
        return f"{self.kind} {self.name}: {self.reason}"
