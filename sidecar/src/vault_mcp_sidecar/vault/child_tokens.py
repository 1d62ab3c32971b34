"""Short-lived child tokens bound to one agent's policy (DESIGN §3).

Preferred: the token role `auth/token/create/<policy name>` (allowed_policies = exactly the
agent policy, not renewable). For the seed's setup, where only the policy exists and the
parent may call `auth/token/create`, children are minted there with `policies=[policy]`.
Which of the two works is remembered per agent for a short while, so the fallback costs one
extra round trip per minute, not per request, and a role created later is picked up.

CHILD_TOKEN_TYPE=batch mints batch tokens: Vault keeps them in no storage, so a mint is no
storage write. They still die with their (service) parent, but have no accessor and no
`num_uses`. The operator's token role allows them only when the VaultAgent asks for it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from enum import StrEnum

from vault_mcp_sidecar.naming import policy_name
from vault_mcp_sidecar.vault.client import VaultClient
from vault_mcp_sidecar.vault.errors import MintRefused, VaultError, VaultUnavailable

ROLE_PROBE_SECONDS = 60.0


class TokenType(StrEnum):
    """CHILD_TOKEN_TYPE: Vault's token type for the children."""

    SERVICE = "service"
    BATCH = "batch"


class ChildTokenMinter:
    def __init__(
        self,
        client: VaultClient,
        *,
        policy_prefix: str,
        ttl: str,
        num_uses: int = 0,
        token_type: TokenType = TokenType.SERVICE,
        on_mint: Callable[[str], None] | None = None,
    ) -> None:
        self._client = client
        self._policy_prefix = policy_prefix
        self._fields = child_token_fields(ttl, num_uses, token_type)
        self._no_role_until: dict[str, float] = {}
        # Told of every mint's outcome: ok, refused, unavailable or error (metrics).
        self._on_mint = on_mint

    async def mint(self, parent: str, subject: str) -> str:
        """A fresh child token for `subject`; MintRefused when Vault refuses every way."""
        try:
            token = await self._mint(parent, subject)
        except Exception as exc:
            self._note(mint_outcome(exc))
            raise
        self._note("ok")
        return token

    def _note(self, outcome: str) -> None:
        if self._on_mint is not None:
            self._on_mint(outcome)

    async def _mint(self, parent: str, subject: str) -> str:
        policy = policy_name(self._policy_prefix, subject)
        probe = self._no_role_until.get(policy, 0.0) < time.monotonic()
        if probe:
            try:
                return await self._create(parent, f"auth/token/create/{policy}", policy)
            except VaultError as exc:
                if not _missing_role(exc):
                    raise
        try:
            token = await self._create(parent, "auth/token/create", policy)
        except VaultError as exc:
            # Neither way worked: most likely a revoked parent (403 on both), not a missing
            # role. Remembering "no role" would keep a re-logged-in parent that may only use
            # the role on the refused path for a whole probe interval.
            self._no_role_until.pop(policy, None)
            if exc.status == 403:
                raise MintRefused(subject) from None
            raise
        if probe:
            self._no_role_until[policy] = time.monotonic() + ROLE_PROBE_SECONDS
        return token

    async def _create(self, parent: str, path: str, policy: str) -> str:
        body = {"policies": [policy], "display_name": policy, **self._fields}
        data = await self._client.call("POST", path, parent, body=body)
        token: str = data["auth"]["client_token"]
        return token


def child_token_fields(ttl: str, num_uses: int, token_type: TokenType) -> dict[str, object]:
    """The create request's token fields. Vault refuses `explicit_max_ttl` and `num_uses` on
    batch tokens; a batch token cannot be renewed, so its `ttl` is already its hard limit."""
    fields: dict[str, object] = {"ttl": ttl, "renewable": False, "no_default_policy": True}
    if token_type is TokenType.BATCH:
        return fields | {"type": str(token_type)}
    return fields | {"type": str(token_type), "explicit_max_ttl": ttl, "num_uses": num_uses}


def mint_outcome(exc: Exception) -> str:
    """The word a failed mint is counted under."""
    if isinstance(exc, MintRefused):
        return "refused"
    if isinstance(exc, VaultUnavailable):
        return "unavailable"
    return "error"


def _missing_role(exc: VaultError) -> bool:
    # A parent whose policy does not cover the role path gets 403 for the same reason.
    return (exc.status == 400 and exc.mentions("unknown role")) or exc.status in (403, 404)
