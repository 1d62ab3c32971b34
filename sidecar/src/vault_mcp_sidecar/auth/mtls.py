"""Mesh / proxy mTLS authentication from identity headers.

The headers are believed only because the trusted-proxy middleware has already removed them
from every request that did not come from `MTLS_TRUSTED_PROXIES`.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.datastructures import Headers

from vault_mcp_sidecar.auth.identity_headers import (
    IdentityParseError,
    common_name,
    spiffe_subject,
    xfcc_uri,
)
from vault_mcp_sidecar.auth.principal import AuthError, AuthMode, Principal
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


class MtlsAuthenticator:
    def __init__(self, config: MtlsConfig) -> None:
        self._config = config

    def present(self, headers: Headers) -> bool:
        return bool(
            (self._config.xfcc_header and self._config.xfcc_header in headers)
            or self._config.identity_header in headers
        )

    def authenticate(self, headers: Headers) -> Principal:
        xfcc = headers.get(self._config.xfcc_header) if self._config.xfcc_header else None
        try:
            if xfcc is not None:
                identity = xfcc_uri(_bounded(xfcc))
                subject = spiffe_subject(identity)
            else:
                identity, subject = self._from_dn(headers)
            subject = check_subject(subject)
        except (IdentityParseError, InvalidName) as exc:
            raise AuthError(f"invalid client identity: {exc}") from None
        return Principal(subject, self._config.default_scopes, AuthMode.MTLS, identity)

    def _from_dn(self, headers: Headers) -> tuple[str, str]:
        if headers.get(self._config.verify_header) != "SUCCESS":
            raise AuthError("client certificate not verified by the proxy")
        dn = _bounded(headers.get(self._config.identity_header, ""))
        return f"dn:{dn}", common_name(dn, self._config.cn_prefix)


def _bounded(value: str) -> str:
    if len(value) > MAX_HEADER_BYTES:
        raise IdentityParseError("identity header too large")
    return value
