"""auth.headers and its users: a credential header counts only when it appears once; a JWT
typed as something other than an access token is no credential."""

from __future__ import annotations

import time

import jwt
import pytest
from starlette.datastructures import Headers

from sidecar.tests.unit.auth.test_authenticator import API_KEY, DN_HEADERS, bearer, make
from vault_mcp_sidecar.auth.headers import single
from vault_mcp_sidecar.auth.jwt_bearer import JwtAuthenticator, JwtConfig
from vault_mcp_sidecar.auth.principal import AuthError
from vault_mcp_sidecar.scopes import ALL_SCOPES

SECRET = "unit-test-hmac-secret-" + "0123456789abcdef" * 3
XFCC = "x-forwarded-client-cert"


def raw(*pairs: tuple[str, str]) -> Headers:
    """Headers exactly as sent, repeats included."""
    return Headers(raw=[(k.lower().encode(), v.encode()) for k, v in pairs])


def test_single_header_value_or_none() -> None:
    assert single(raw(("x-api-key", "k")), "x-api-key") == "k"
    assert single(raw(("accept", "*/*")), "x-api-key") is None


def test_repeated_header_is_refused_without_echo() -> None:
    with pytest.raises(AuthError, match="more than one x-api-key") as refused:
        single(raw(("x-api-key", "first-secret"), ("x-api-key", "second-secret")), "x-api-key")
    assert "secret" not in str(refused.value)


@pytest.mark.parametrize(
    "headers",
    [
        raw(("X-API-Key", API_KEY), ("X-API-Key", API_KEY)),
        raw(("X-API-Key", API_KEY), ("X-API-Key", "another-key-0123456789abcdef")),
        raw(("Authorization", bearer()), ("Authorization", bearer("someone-else"))),
        raw(*DN_HEADERS.items(), ("x-ssl-client-s-dn", "CN=someone-else")),
        raw(*DN_HEADERS.items(), ("x-ssl-client-verify", "SUCCESS")),
        raw((XFCC, "URI=spiffe://td/ns/a/sa/b"), (XFCC, "URI=spiffe://td/ns/c/sa/d")),
    ],
    ids=["same-key-twice", "two-keys", "two-bearers", "two-dns", "two-verifies", "two-xfcc"],
)
async def test_repeated_credential_is_401(headers: Headers) -> None:
    with pytest.raises(AuthError, match="more than one"):
        await make().authenticate(headers)


def _token(**header: object) -> str:
    claims = {"sub": "alice", "exp": int(time.time()) + 300}
    return jwt.encode(claims, SECRET, algorithm="HS256", headers=header or None)


def _authenticator() -> JwtAuthenticator:
    return JwtAuthenticator(
        JwtConfig(
            algorithms=("HS256",),
            hs256_secret=SECRET,
            jwks_url=None,
            issuer=None,
            audience=None,
            leeway_seconds=0,
            default_scopes=ALL_SCOPES,
        )
    )


@pytest.mark.parametrize("typ", ["JWT", "jwt", "at+jwt", "application/at+JWT", None])
async def test_access_token_types_are_accepted(typ: str | None) -> None:
    token = _token(typ=typ) if typ is not None else _token()
    assert (await _authenticator().authenticate(token)).subject == "alice"


@pytest.mark.parametrize(
    "typ", ["logout+jwt", "secevent+jwt", "dpop+jwt", "JWE", "id_token", 5, ["JWT"]]
)
async def test_other_token_types_are_refused(typ: object) -> None:
    with pytest.raises(AuthError, match="typ"):
        await _authenticator().authenticate(_token(typ=typ))
