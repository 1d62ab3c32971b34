"""API key authentication (`X-API-Key`), against the `API_KEYS_JSON` map."""

from __future__ import annotations

import hashlib

from vault_mcp_sidecar.auth.principal import AuthError, AuthMode, Principal
from vault_mcp_sidecar.scopes import Scope


def fingerprint(api_key: str) -> str:
    """A short, non-reversible name for a key, fit for logs."""
    return "key:" + hashlib.sha256(api_key.encode()).hexdigest()[:12]


class ApiKeyAuthenticator:
    """Looks keys up by their SHA-256 digest.

    Storing digests means the lookup compares digests, not secrets, so a timing difference
    reveals nothing usable about any key.
    """

    def __init__(
        self,
        keys: dict[str, tuple[str, frozenset[Scope] | None]],
        default_scopes: frozenset[Scope],
    ) -> None:
        self._by_digest: dict[bytes, Principal] = {
            _digest(key): Principal(
                subject=subject,
                scopes=default_scopes if scopes is None else scopes,
                mode=AuthMode.API_KEY,
                identity=fingerprint(key),
            )
            for key, (subject, scopes) in keys.items()
        }

    def authenticate(self, presented: str) -> Principal:
        principal = self._by_digest.get(_digest(presented))
        if principal is None:
            raise AuthError("invalid API key")
        return principal


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8", "surrogateescape")).digest()
