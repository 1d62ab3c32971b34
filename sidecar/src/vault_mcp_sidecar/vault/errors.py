"""Vault failures, by what the caller should be told (DESIGN §5 error model)."""

from __future__ import annotations


class VaultError(Exception):
    """Vault answered with an error status. `messages` are Vault's own error strings."""

    def __init__(self, status: int, messages: list[str] | None = None) -> None:
        self.status = status
        self.messages = messages or []
        super().__init__(f"Vault returned {status}")

    def mentions(self, text: str) -> bool:
        return any(text in message for message in self.messages)


class MintRefused(VaultError):
    """Vault refused to mint a child token for the agent (403 on every way of minting).

    The caller is told why in words: the agent's policy or token role is gone — typically its
    VaultAgent was deleted — or this sidecar's own token may not mint for that agent."""

    def __init__(self, subject: str) -> None:
        super().__init__(403, [])
        self.detail = (
            f"Vault refused a token for agent '{subject}': its policy or token role no longer "
            "exists (was its VaultAgent deleted?) or this sidecar may not mint for it"
        )


class VaultUnavailable(VaultError):
    """Vault cannot be reached, is sealed or is on standby: try again later (503)."""

    detail = "Vault is unavailable"  # what the caller is told; `reason` is for the log

    def __init__(self, reason: str) -> None:
        super().__init__(503, [reason])
        self.reason = reason


class VaultLoginFailed(VaultUnavailable):
    """The sidecar's own credentials (AppRole) were refused or unreadable: not the caller's
    fault, so 503 like an outage, but saying what is wrong."""

    detail = "the sidecar cannot log in to Vault: its AppRole credentials are missing or refused"
