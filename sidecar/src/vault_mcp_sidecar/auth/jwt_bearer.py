"""JWT bearer authentication: HS256 with a shared secret, RS/ES via a JWKS URL.

The algorithm is pinned: the token's `alg` must be in `JWT_ALGORITHMS`, HMAC algorithms are
verified only with `JWT_HS256_SECRET` and asymmetric ones only with JWKS keys, so an RS256
public key can never be used as an HMAC secret (algorithm confusion) and `alg: none` never
verifies.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jwt
from starlette.concurrency import run_in_threadpool

from vault_mcp_sidecar.auth.binding import BindingError, check_caller_name
from vault_mcp_sidecar.auth.principal import AuthError, AuthMode, ForbiddenError, Principal
from vault_mcp_sidecar.naming import InvalidName, check_subject
from vault_mcp_sidecar.scopes import Scope, ScopeError, parse_scopes

MAX_TOKEN_BYTES = 8192
# `typ` values of an access token (RFC 9068 `at+jwt`) or a plain JWT; absent is fine too. A
# token explicitly typed as something else — a logout token, a security event, a DPoP proof —
# is not a credential for this sidecar even when the identity provider signed it (RFC 8725
# §3.11: explicit typing against cross-JWT confusion).
_ACCESS_TOKEN_TYPES = {"jwt", "at+jwt", "application/jwt", "application/at+jwt"}
JWKS_CACHE_SECONDS = 300
JWKS_TIMEOUT_SECONDS = 5


@dataclass(frozen=True, slots=True)
class JwtConfig:
    algorithms: tuple[str, ...]
    hs256_secret: str | None
    jwks_url: str | None
    issuer: str | None
    audience: str | None
    leeway_seconds: int
    default_scopes: frozenset[Scope]
    jwks_cooldown_seconds: float = 10.0
    # Bound mode: `sub` names the caller, which acts as this agent.
    bound_agent: str | None = None
    # JWT_ALLOWED_SUBJECTS: the callers whose tokens are accepted (None: any).
    allowed_subjects: frozenset[str] | None = None


class JwtAuthenticator:
    def __init__(self, config: JwtConfig) -> None:
        self._config = config
        # PyJWKClient caches the key set and refetches on an unknown `kid` (key rotation), at
        # most once per cooldown, so tokens with made-up kids cannot hammer the JWKS endpoint.
        self._jwks = (
            jwt.PyJWKClient(
                config.jwks_url,
                cache_keys=True,
                lifespan=JWKS_CACHE_SECONDS,
                timeout=JWKS_TIMEOUT_SECONDS,
                cooldown_duration=config.jwks_cooldown_seconds,
            )
            if config.jwks_url
            else None
        )

    async def authenticate(self, token: str) -> Principal:
        if len(token) > MAX_TOKEN_BYTES:
            raise AuthError("invalid token: too large")
        alg = _header_alg(token)
        if alg not in self._config.algorithms:
            raise AuthError("invalid token: algorithm not allowed")
        key = await self._key_for(token, alg)
        claims = self._decode(token, key, alg)
        return _principal(claims, self._config)

    async def _key_for(self, token: str, alg: str) -> Any:
        if alg.startswith("HS"):
            if not self._config.hs256_secret:
                raise AuthError("invalid token: HMAC tokens are not accepted")
            return self._config.hs256_secret
        if self._jwks is None:
            raise AuthError("invalid token: no JWKS configured for asymmetric tokens")
        try:
            # The JWKS client does blocking I/O on a cache miss; keep it off the event loop.
            signing_key = await run_in_threadpool(self._jwks.get_signing_key_from_jwt, token)
        except jwt.PyJWKClientConnectionError as exc:
            raise AuthError("invalid token: signing keys unavailable") from exc
        except jwt.PyJWTError as exc:
            raise AuthError("invalid token: unknown signing key") from exc
        return signing_key.key

    def _decode(self, token: str, key: Any, alg: str) -> dict[str, Any]:
        required = ["exp", "sub"] + (["iss"] if self._config.issuer else [])
        required += ["aud"] if self._config.audience else []
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[alg],
                issuer=self._config.issuer,
                audience=self._config.audience,
                leeway=self._config.leeway_seconds,
                options={"require": required, "verify_aud": bool(self._config.audience)},
            )
        except jwt.ExpiredSignatureError:
            raise AuthError("invalid token: expired") from None
        except jwt.ImmatureSignatureError:
            raise AuthError("invalid token: not yet valid") from None
        except jwt.InvalidIssuerError:
            raise AuthError("invalid token: wrong issuer") from None
        except jwt.InvalidAudienceError:
            raise AuthError("invalid token: wrong audience") from None
        except jwt.MissingRequiredClaimError as exc:
            raise AuthError(f"invalid token: missing claim {exc.claim!r}") from None
        except jwt.PyJWTError:
            raise AuthError("invalid token: signature or format") from None
        return claims


def _header_alg(token: str) -> str:
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise AuthError("invalid token: malformed") from None
    alg = header.get("alg")
    if not isinstance(alg, str):
        raise AuthError("invalid token: malformed header")
    typ = header.get("typ")
    if typ is not None and (not isinstance(typ, str) or typ.lower() not in _ACCESS_TOKEN_TYPES):
        raise AuthError("invalid token: not an access token (typ)")
    return alg


def _principal(claims: dict[str, Any], config: JwtConfig) -> Principal:
    sub = claims.get("sub")
    scopes = _scopes(claims, config.default_scopes)
    if config.bound_agent is not None:
        # The caller need not be an agent (a SPIFFE ID, an email): it acts as the bound agent.
        try:
            caller = check_caller_name(sub)
        except BindingError as exc:
            raise AuthError(f"invalid token: 'sub' {exc}") from None
        _check_allowed(caller, config)
        return Principal(config.bound_agent, scopes, AuthMode.JWT, f"jwt:{caller}")
    try:
        subject = check_subject(sub) if isinstance(sub, str) else None
    except InvalidName:
        subject = None
    if subject is None:
        raise AuthError("invalid token: 'sub' is not a valid agent id")
    _check_allowed(subject, config)
    return Principal(subject, scopes, AuthMode.JWT, f"jwt:{subject}")


def _check_allowed(caller: str, config: JwtConfig) -> None:
    if config.allowed_subjects is not None and caller not in config.allowed_subjects:
        target = f"agent {config.bound_agent!r}" if config.bound_agent else "this sidecar"
        raise ForbiddenError(
            f"JWT subject {caller[:80]!r} may not act for {target}: not in JWT_ALLOWED_SUBJECTS"
        )


def _scopes(claims: dict[str, Any], default_scopes: frozenset[Scope]) -> frozenset[Scope]:
    raw = claims.get("scopes", claims.get("scope"))
    if raw is None:
        return default_scopes
    try:
        return parse_scopes(raw)
    except ScopeError as exc:
        raise AuthError(f"invalid token: {exc}") from None
