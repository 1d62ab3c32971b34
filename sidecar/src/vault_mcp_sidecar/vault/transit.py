"""Transit encrypt/decrypt with the agent's own keys (names from `naming`)."""

from __future__ import annotations

from vault_mcp_sidecar.naming import transit_key_name
from vault_mcp_sidecar.vault.client import VaultClient
from vault_mcp_sidecar.vault.errors import VaultError


class TransitInputError(Exception):
    """Vault refused the ciphertext or plaintext as malformed (400). Message is safe."""


class TransitKeyNotFound(Exception):
    """The agent has no Transit key of that name (yet): nothing was ever encrypted with it."""


class Transit:
    def __init__(self, client: VaultClient, mount: str, prefix: str) -> None:
        self._client = client
        self._mount = mount
        self._prefix = prefix

    async def encrypt(self, token: str, subject: str, key: str, plaintext_b64: str) -> str:
        name = transit_key_name(self._prefix, subject, key)
        data = await self._call(token, f"encrypt/{name}", {"plaintext": plaintext_b64})
        return str(data["ciphertext"])

    async def decrypt(self, token: str, subject: str, key: str, ciphertext: str) -> str:
        name = transit_key_name(self._prefix, subject, key)
        data = await self._call(token, f"decrypt/{name}", {"ciphertext": ciphertext})
        return str(data["plaintext"])

    async def _call(self, token: str, op: str, body: dict[str, str]) -> dict[str, str]:
        try:
            result = await self._client.call("POST", f"{self._mount}/{op}", token, body=body)
        except VaultError as exc:
            if exc.status == 400 and exc.mentions("not found"):
                raise TransitKeyNotFound from None
            if exc.status == 400:
                # Vault's 400s here describe the input ("invalid ciphertext", ...), never a value.
                raise TransitInputError("Vault refused the input as malformed") from None
            raise
        data: dict[str, str] = result["data"]
        return data
