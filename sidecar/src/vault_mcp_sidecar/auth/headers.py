"""A credential header is believed only when it appears once.

Two `X-API-Key`s, two `Authorization`s or two identity headers are ambiguous: which one counts
would depend on who reads them (this sidecar takes the first, a proxy in front may check the
last). A proxy that appends its identity header instead of overwriting the caller's would
otherwise let the caller's forged copy win. Refuse (401) rather than guess.
"""

from __future__ import annotations

from starlette.datastructures import Headers

from vault_mcp_sidecar.auth.principal import AuthError


def single(headers: Headers, name: str) -> str | None:
    """The value of credential header `name` (lower case), None if absent; AuthError if the
    request carries it more than once."""
    value = headers.get(name)
    if value is not None and len(headers.getlist(name)) > 1:
        raise AuthError(f"more than one {name} header: ambiguous credential")
    return value
