"""auth.authenticator: which credential counts, and that a wrong one never falls through."""

from __future__ import annotations

import time

import jwt
import pytest
from starlette.datastructures import Headers

from vault_mcp_sidecar.auth.api_keys import ApiKeyAuthenticator
from vault_mcp_sidecar.auth.authenticator import Authenticator
from vault_mcp_sidecar.auth.jwt_bearer import JwtAuthenticator, JwtConfig
from vault_mcp_sidecar.auth.mtls import MtlsAuthenticator, MtlsConfig
from vault_mcp_sidecar.auth.principal import AuthError, AuthMode, ForbiddenError
from vault_mcp_sidecar.scopes import ALL_SCOPES

SECRET = "unit-test-hmac-secret-" + "0123456789abcdef" * 3
API_KEY = "api-agent-key-0123456789abcdef"
DN_HEADERS = {"x-ssl-client-s-dn": "CN=agent_mtls,O=Example", "x-ssl-client-verify": "SUCCESS"}
XFCC_HEADERS = {"x-forwarded-client-cert": "Hash=ab;URI=spiffe://cluster.local/ns/team-a/sa/bob"}


def bearer(sub: str = "agent_jwt", secret: str = SECRET) -> str:
    token = jwt.encode({"sub": sub, "exp": int(time.time()) + 300}, secret, algorithm="HS256")
    return f"Bearer {token}"


def make(
    *,
    api_keys: bool = True,
    jwt_enabled: bool = True,
    mtls: bool = True,
    agent_id: str | None = None,
) -> Authenticator:
    return Authenticator(
        api_keys=(
            ApiKeyAuthenticator({API_KEY: ("agent_api", None)}, ALL_SCOPES) if api_keys else None
        ),
        jwt=(
            JwtAuthenticator(
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
            if jwt_enabled
            else None
        ),
        mtls=(
            MtlsAuthenticator(
                MtlsConfig(
                    identity_header="x-ssl-client-s-dn",
                    verify_header="x-ssl-client-verify",
                    cn_prefix="CN=",
                    xfcc_header="x-forwarded-client-cert",
                    default_scopes=ALL_SCOPES,
                )
            )
            if mtls
            else None
        ),
        agent_id=agent_id,
    )


async def test_api_key() -> None:
    principal = await make().authenticate(Headers(headers={"X-API-Key": API_KEY}))
    assert (principal.subject, principal.mode) == ("agent_api", AuthMode.API_KEY)


async def test_bearer() -> None:
    principal = await make().authenticate(Headers(headers={"Authorization": bearer()}))
    assert (principal.subject, principal.mode) == ("agent_jwt", AuthMode.JWT)


async def test_bearer_scheme_is_case_insensitive() -> None:
    token = bearer().split(" ", 1)[1]
    principal = await make().authenticate(Headers(headers={"authorization": f"bearer {token}"}))
    assert principal.subject == "agent_jwt"


async def test_mtls_dn() -> None:
    principal = await make().authenticate(Headers(headers=DN_HEADERS))
    assert (principal.subject, principal.mode) == ("agent_mtls", AuthMode.MTLS)


async def test_mtls_xfcc() -> None:
    principal = await make().authenticate(Headers(headers=XFCC_HEADERS))
    assert (principal.subject, principal.mode) == ("team-a.bob", AuthMode.MTLS)


async def test_api_key_takes_precedence_over_bearer_and_mtls() -> None:
    headers = {"X-API-Key": API_KEY, "Authorization": bearer()} | DN_HEADERS
    assert (await make().authenticate(Headers(headers=headers))).mode is AuthMode.API_KEY


async def test_bearer_takes_precedence_over_mtls() -> None:
    headers = {"Authorization": bearer()} | DN_HEADERS
    assert (await make().authenticate(Headers(headers=headers))).mode is AuthMode.JWT


@pytest.mark.parametrize(
    "headers",
    [
        {"X-API-Key": "wrong-key-0123456789abcdef", "Authorization": bearer()},
        {"X-API-Key": "wrong-key-0123456789abcdef"} | DN_HEADERS,
        {"X-API-Key": ""} | XFCC_HEADERS,
        {"Authorization": bearer(secret="x" * 64)} | DN_HEADERS,
        {"Authorization": bearer(sub="../x")} | XFCC_HEADERS,
        {"Authorization": "Bearer not-a-token"} | DN_HEADERS,
    ],
)
async def test_wrong_present_credential_is_401_without_fallthrough(
    headers: dict[str, str],
) -> None:
    with pytest.raises(AuthError):
        await make().authenticate(Headers(headers=headers))


@pytest.mark.parametrize(
    "authorization", ["Basic YWxpY2U6cHc=", "Bearer", "Bearer ", "Bearer    ", "Token abc", "abc"]
)
async def test_authorization_without_bearer_scheme(authorization: str) -> None:
    headers = {"Authorization": authorization} | DN_HEADERS
    with pytest.raises(AuthError, match="Bearer"):
        await make().authenticate(Headers(headers=headers))


async def test_no_credential() -> None:
    with pytest.raises(AuthError, match="no credential"):
        await make().authenticate(Headers(headers={"Accept": "application/json"}))


async def test_mtls_headers_ignored_when_mtls_disabled() -> None:
    with pytest.raises(AuthError, match="no credential"):
        await make(mtls=False).authenticate(Headers(headers=DN_HEADERS))


async def test_bearer_ignored_when_jwt_disabled() -> None:
    with pytest.raises(AuthError, match="no credential"):
        await make(jwt_enabled=False).authenticate(Headers(headers={"Authorization": bearer()}))


async def test_api_key_ignored_when_api_keys_disabled() -> None:
    with pytest.raises(AuthError, match="no credential"):
        await make(api_keys=False).authenticate(Headers(headers={"X-API-Key": API_KEY}))


async def test_bound_mode_accepts_its_agent() -> None:
    auth = make(agent_id="agent_jwt")
    principal = await auth.authenticate(Headers(headers={"Authorization": bearer()}))
    assert principal.subject == "agent_jwt"


@pytest.mark.parametrize(
    "headers",
    [
        {"X-API-Key": API_KEY},
        {"Authorization": bearer(sub="someone-else")},
        DN_HEADERS,
        XFCC_HEADERS,
    ],
)
async def test_bound_mode_refuses_other_subjects(headers: dict[str, str]) -> None:
    with pytest.raises(ForbiddenError):
        await make(agent_id="agent_jwt").authenticate(Headers(headers=headers))


async def test_bound_mode_still_401_for_a_bad_credential() -> None:
    with pytest.raises(AuthError):
        await make(agent_id="agent_jwt").authenticate(Headers(headers={"X-API-Key": "nope"}))
