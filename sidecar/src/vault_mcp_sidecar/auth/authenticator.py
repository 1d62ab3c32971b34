"""Which credential a request carries, and who it makes the caller.

Order: `X-API-Key`, then `Authorization: Bearer`, then mTLS identity headers. A credential
that is present but wrong is a 401 — there is no falling through to a weaker mode.
"""

from __future__ import annotations

from starlette.datastructures import Headers

from vault_mcp_sidecar.auth.api_keys import ApiKeyAuthenticator
from vault_mcp_sidecar.auth.binding import effective_scopes
from vault_mcp_sidecar.auth.headers import single
from vault_mcp_sidecar.auth.jwt_bearer import JwtAuthenticator
from vault_mcp_sidecar.auth.mtls import MtlsAuthenticator
from vault_mcp_sidecar.auth.principal import AuthError, ForbiddenError, Principal
from vault_mcp_sidecar.scopes import Scope


class Authenticator:
    def __init__(
        self,
        *,
        api_keys: ApiKeyAuthenticator | None,
        jwt: JwtAuthenticator | None,
        mtls: MtlsAuthenticator | None,
        agent_id: str | None = None,
        agent_scopes: frozenset[Scope] | None = None,
    ) -> None:
        self._api_keys = api_keys
        self._jwt = jwt
        self._mtls = mtls
        self._agent_id = agent_id
        self._agent_scopes = agent_scopes

    async def authenticate(self, headers: Headers) -> Principal:
        principal = await self._identify(headers)
        if self._agent_id is not None and principal.subject != self._agent_id:
            raise ForbiddenError(
                f"this sidecar serves only agent {self._agent_id!r}; "
                f"the credential is for {principal.subject!r}"
            )
        agent_scopes = self._agent_scopes
        if agent_scopes is not None and not principal.scopes <= agent_scopes:
            # Default-scoped credentials are built within AGENT_SCOPES already; only a
            # credential naming more than the agent may have gets here.
            principal = Principal(
                principal.subject,
                effective_scopes(principal.scopes, agent_scopes),
                principal.mode,
                principal.identity,
            )
        return principal

    async def _identify(self, headers: Headers) -> Principal:
        api_key = single(headers, "x-api-key") if self._api_keys is not None else None
        if api_key is not None and self._api_keys is not None:
            return self._api_keys.authenticate(api_key)
        authorization = single(headers, "authorization") if self._jwt is not None else None
        if authorization is not None and self._jwt is not None:
            scheme, _, token = authorization.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise AuthError("Authorization must be 'Bearer <token>'")
            return await self._jwt.authenticate(token.strip())
        if self._mtls is not None and self._mtls.present(headers):
            return self._mtls.authenticate(headers)
        raise AuthError("no credential: send X-API-Key, a Bearer token or a client certificate")
