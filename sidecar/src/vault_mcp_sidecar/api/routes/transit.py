"""Transit routes with the caller's own keys."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter

from vault_mcp_sidecar.api.deps import RuntimeDep, admitted
from vault_mcp_sidecar.api.errors import error_responses
from vault_mcp_sidecar.api.media_type import JsonBodyRoute
from vault_mcp_sidecar.api.models import Ciphertext, DecryptRequest, EncryptRequest, Plaintext
from vault_mcp_sidecar.auth.principal import Principal
from vault_mcp_sidecar.logs import note_transit_key
from vault_mcp_sidecar.naming import check_transit_key

router = APIRouter(prefix="/transit", tags=["transit"], route_class=JsonBodyRoute)


@router.post(
    "/encrypt",
    operation_id="transit_encrypt",
    response_model=Ciphertext,
    responses=error_responses("transit_encrypt"),
)
async def transit_encrypt(
    body: EncryptRequest,
    caller: Annotated[Principal, admitted("transit_encrypt")],
    runtime: RuntimeDep,
) -> Ciphertext:
    """Encrypt base64 `plaintext` with the agent's key `key` (created on first use)."""
    _check_and_note_key(body.key)
    token = await runtime.token_for(caller)
    ciphertext = await runtime.transit.encrypt(token, caller.subject, body.key, body.plaintext)
    return Ciphertext(ciphertext=ciphertext)


@router.post(
    "/decrypt",
    operation_id="transit_decrypt",
    response_model=Plaintext,
    responses=error_responses("transit_decrypt"),
)
async def transit_decrypt(
    body: DecryptRequest,
    caller: Annotated[Principal, admitted("transit_decrypt")],
    runtime: RuntimeDep,
) -> Plaintext:
    """Decrypt `ciphertext` with the agent's key `key`; returns base64 plaintext."""
    _check_and_note_key(body.key)
    token = await runtime.token_for(caller)
    plaintext = await runtime.transit.decrypt(token, caller.subject, body.key, body.ciphertext)
    return Plaintext(plaintext=plaintext)


def _check_and_note_key(key: str) -> None:
    """A bad key name is refused (400) before the child-token mint; a good one is noted for
    the audit line, which so only ever holds a checked name."""
    note_transit_key(check_transit_key(key))
