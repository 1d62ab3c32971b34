"""The long-lived parts of a running sidecar, built once from Settings.

Routes reach these through `api.deps`; tests can build a Runtime directly.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import SecretStr
from starlette.datastructures import Headers

from vault_mcp_sidecar.auth.api_keys import ApiKeyAuthenticator, KeyDir
from vault_mcp_sidecar.auth.authenticator import Authenticator
from vault_mcp_sidecar.auth.jwt_bearer import JwtAuthenticator, JwtConfig
from vault_mcp_sidecar.auth.mtls import MtlsAuthenticator, MtlsConfig
from vault_mcp_sidecar.auth.principal import ForbiddenError, Principal
from vault_mcp_sidecar.config import Settings
from vault_mcp_sidecar.metrics import SidecarMetrics
from vault_mcp_sidecar.naming import KvLayout
from vault_mcp_sidecar.ratelimit import AgentRateLimiter
from vault_mcp_sidecar.read_cache import ReadCache
from vault_mcp_sidecar.scopes import Scope
from vault_mcp_sidecar.vault.child_tokens import ChildTokenMinter
from vault_mcp_sidecar.vault.client import VaultClient
from vault_mcp_sidecar.vault.kv import KvStore
from vault_mcp_sidecar.vault.parent_token import AppRoleCredentials, ParentToken
from vault_mcp_sidecar.vault.transit import Transit


@dataclass
class Runtime:
    settings: Settings
    vault: VaultClient
    parent: ParentToken
    minter: ChildTokenMinter | None
    kv: KvStore
    transit: Transit
    authenticator: Authenticator
    rate_limiter: AgentRateLimiter | None
    read_cache: ReadCache | None  # READ_CACHE_ENABLED (read_cache.py)
    metrics: SidecarMetrics | None  # METRICS_ENABLED (metrics.py)

    async def start(self) -> None:
        await self.vault.start()

    async def close(self) -> None:
        await self.parent.close()
        await self.vault.close()

    async def authenticate(self, headers: Headers) -> Principal:
        return await self.authenticator.authenticate(headers)

    def admit(self, principal: Principal, scope: Scope) -> None:
        """The caller holds `scope` and has not used up its agent's rate limit."""
        if not principal.allows(scope):
            raise ForbiddenError(f"scope {scope.value!r} not granted")
        if self.rate_limiter is not None:
            self.rate_limiter.hit(principal.subject)

    async def token_for(self, principal: Principal) -> str:
        """The token a request acts with: a fresh child bound to the agent's policy, or the
        parent token itself when child tokens are off."""
        parent = await self.parent.get()
        if self.minter is None:
            return parent
        # A 403 here need not mean the parent is dead (the agent's token role or policy may be
        # missing): ParentToken hears of it through VaultClient.on_denied and checks the token
        # with lookup-self before logging in again, so a misconfigured agent cannot cause a
        # login per request.
        return await self.minter.mint(parent, principal.subject)


def build_runtime(settings: Settings) -> Runtime:
    metrics = SidecarMetrics() if settings.metrics_enabled else None
    vault = VaultClient(
        settings.vault_addr,
        namespace=settings.vault_namespace,
        cacert=settings.vault_cacert,
        observer=metrics.vault_call if metrics else None,
    )
    return Runtime(
        settings=settings,
        vault=vault,
        parent=_parent_token(settings, vault),
        minter=_minter(settings, vault, metrics),
        kv=KvStore(vault, KvLayout(settings.kv_mount, settings.default_prefix)),
        transit=Transit(vault, settings.transit_mount, settings.default_prefix),
        authenticator=_authenticator(settings),
        rate_limiter=(
            AgentRateLimiter(
                settings.rate_limit_requests,
                settings.rate_limit_window_seconds,
                on_limited=metrics.rate_limited if metrics else None,
            )
            if settings.rate_limit_enabled
            else None
        ),
        read_cache=(
            ReadCache(settings.read_cache_ttl_seconds, settings.read_cache_max_entries)
            if settings.read_cache_enabled
            else None
        ),
        metrics=metrics,
    )


def _parent_token(settings: Settings, vault: VaultClient) -> ParentToken:
    approle = None
    if settings.vault_role_id or settings.vault_role_id_file:
        approle = AppRoleCredentials(
            mount=settings.vault_approle_mount,
            role_id=_reveal(settings.vault_role_id),
            secret_id=_reveal(settings.vault_secret_id),
            role_id_file=settings.vault_role_id_file,
            secret_id_file=settings.vault_secret_id_file,
        )
    return ParentToken(vault, token=_reveal(settings.vault_token), approle=approle)


def _minter(
    settings: Settings, vault: VaultClient, metrics: SidecarMetrics | None
) -> ChildTokenMinter | None:
    if not settings.child_token_enabled:
        return None
    return ChildTokenMinter(
        vault,
        policy_prefix=settings.child_token_policy_prefix,
        ttl=settings.child_token_ttl,
        num_uses=settings.child_token_num_uses,
        token_type=settings.child_token_type,
        on_mint=metrics.token_mint if metrics else None,
    )


def _authenticator(settings: Settings) -> Authenticator:
    # DEFAULT_SCOPES within AGENT_SCOPES, so default-scoped callers need no per-request work.
    scopes = settings.caller_default_scopes
    key_dir = (
        KeyDir(settings.api_keys_dir, settings.agent_id)
        if settings.api_keys_dir is not None and settings.agent_id is not None
        else None
    )
    return Authenticator(
        api_keys=(
            ApiKeyAuthenticator(settings.api_keys, scopes, key_dir)
            if settings.auth_api_key_enabled
            else None
        ),
        jwt=JwtAuthenticator(_jwt_config(settings)) if settings.auth_jwt_enabled else None,
        mtls=(
            MtlsAuthenticator(
                MtlsConfig(
                    identity_header=settings.mtls_identity_header.lower(),
                    verify_header=settings.mtls_verify_header.lower(),
                    cn_prefix=settings.mtls_subject_cn_prefix,
                    xfcc_header=settings.mtls_xfcc_header.lower(),
                    default_scopes=scopes,
                    bound_agent=settings.agent_id,
                    allowed_identities=settings.mtls_allowed_identity_set,
                )
            )
            if settings.auth_mtls_enabled
            else None
        ),
        agent_id=settings.agent_id,
        agent_scopes=settings.agent_scope_set,
    )


def _jwt_config(settings: Settings) -> JwtConfig:
    return JwtConfig(
        algorithms=settings.jwt_algorithm_list,
        hs256_secret=_reveal(settings.jwt_hs256_secret),
        jwks_url=settings.jwt_jwks_url,
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        leeway_seconds=settings.jwt_leeway_seconds,
        default_scopes=settings.caller_default_scopes,
        jwks_cooldown_seconds=settings.jwt_jwks_refresh_cooldown_seconds,
        bound_agent=settings.agent_id,
        allowed_subjects=settings.jwt_allowed_subject_set,
    )


def _reveal(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if isinstance(value, SecretStr) else None
