"""Mesh / proxy mTLS authentication from identity headers.

The headers are believed only because the trusted-proxy middleware has already removed them
from every request that did not come from `MTLS_TRUSTED_PROXIES`.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.datastructures import Headers

from vault_mcp_sidecar.auth.binding import identity_allowed
from vault_mcp_sidecar.auth.headers import single
from vault_mcp_sidecar.auth.identity_headers import (
    IdentityParseError,
    common_name,
    spiffe_subject,
    xfcc_uri,
)
from vault_mcp_sidecar.auth.principal import AuthError, AuthMode, ForbiddenError, Principal
from vault_mcp_sidecar.naming import InvalidName, check_subject
from vault_mcp_sidecar.scopes import Scope

MAX_HEADER_BYTES = 4096


@dataclass(frozen=True, slots=True)
class MtlsConfig:
    identity_header: str
    verify_header: str
    cn_prefix: str
    xfcc_header: str
    default_scopes: frozenset[Scope]
    # Bound mode: the certificate names the caller, which acts as this agent.
    bound_agent: str | None = None
    # MTLS_ALLOWED_IDENTITIES: `spiffe://...` URIs and `CN=<name>` entries (None: any).
    allowed_identities: frozenset[str] | None = None


class MtlsAuthenticator:
    def __init__(self, config: MtlsConfig) -> None:
        self._config = config

    def present(self, headers: Headers) -> bool:
        return bool(
            (self._config.xfcc_header and self._config.xfcc_header in headers)
            or self._config.identity_header in headers
        )

    def authenticate(self, headers: Headers) -> Principal:
        config = self._config
        xfcc = single(headers, config.xfcc_header) if config.xfcc_header else None
        uri = cn = None
        try:
            if xfcc is not None:
                identity = uri = xfcc_uri(_bounded(xfcc))
            else:
                identity, cn = self._from_dn(headers)
            allowed = identity_allowed(config.allowed_identities, uri=uri, cn=cn)
            if config.bound_agent is not None:
                subject = config.bound_agent
            else:
                subject = check_subject(spiffe_subject(uri) if uri is not None else str(cn))
        except (IdentityParseError, InvalidName) as exc:
            raise AuthError(f"invalid client identity: {exc}") from None
        if not allowed:
            target = f"agent {config.bound_agent!r}" if config.bound_agent else "this sidecar"
            shown = uri if uri is not None else f"CN={cn}"
            raise ForbiddenError(
                f"client identity {shown[:120]!r} may not act for {target}: "
                "not in MTLS_ALLOWED_IDENTITIES"
            )
        return Principal(subject, config.default_scopes, AuthMode.MTLS, identity)

    def _from_dn(self, headers: Headers) -> tuple[str, str]:
        if single(headers, self._config.verify_header) != "SUCCESS":
            raise AuthError("client certificate not verified by the proxy")
        dn = _bounded(single(headers, self._config.identity_header) or "")
        return f"dn:{dn}", common_name(dn, self._config.cn_prefix)


def _bounded(value: str) -> str:
    if len(value) > MAX_HEADER_BYTES:
        raise IdentityParseError("identity header too large")
    return value
