"""Who is calling, as established by one of the authenticators."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from vault_mcp_sidecar.scopes import Scope


class AuthMode(StrEnum):
    API_KEY = "api_key"
    JWT = "jwt"
    MTLS = "mtls"


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller.

    `subject` is the agent id whose Vault subtree the caller acts on; `identity` names the
    credential for audit logs (a key fingerprint, a JWT `sub`, a certificate identity) and is
    never the credential itself.
    """

    subject: str
    scopes: frozenset[Scope]
    mode: AuthMode
    identity: str

    def allows(self, scope: Scope) -> bool:
        return scope in self.scopes


class AuthError(Exception):
    """401: no credential, or one that does not verify. The message is safe to return."""


class ForbiddenError(Exception):
    """403: a valid credential that may not do this. The message is safe to return."""
