"""auth.jwt_bearer with HS256 tokens minted by pyjwt (JWKS/RS256 is covered by integration)."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import jwt
import pytest

from vault_mcp_sidecar.auth.jwt_bearer import MAX_TOKEN_BYTES, JwtAuthenticator, JwtConfig
from vault_mcp_sidecar.auth.principal import AuthError, AuthMode
from vault_mcp_sidecar.scopes import ALL_SCOPES, Scope

SECRET = "unit-test-hmac-secret-" + "0123456789abcdef" * 3  # 70 bytes: enough for HS512
OTHER_SECRET = "another-hmac-secret-" + "fedcba9876543210" * 3
ISSUER = "https://issuer.example"
AUDIENCE = "vault-mcp"


def config(**overrides: Any) -> JwtConfig:
    values: dict[str, Any] = {
        "algorithms": ("HS256",),
        "hs256_secret": SECRET,
        "jwks_url": None,
        "issuer": ISSUER,
        "audience": AUDIENCE,
        "leeway_seconds": 30,
        "default_scopes": ALL_SCOPES,
    }
    return JwtConfig(**(values | overrides))


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    values: dict[str, Any] = {
        "sub": "agent_jwt",
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + 300,
    }
    values |= overrides
    return {k: v for k, v in values.items() if v is not None}


def mint(payload: dict[str, Any], key: str = SECRET, algorithm: str = "HS256") -> str:
    return jwt.encode(payload, key, algorithm=algorithm)


def unsigned(header: dict[str, Any], payload: dict[str, Any]) -> str:
    def part(obj: dict[str, Any]) -> str:
        raw = json.dumps(obj, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    return f"{part(header)}.{part(payload)}."


async def refused(token: str, cfg: JwtConfig | None = None) -> str:
    with pytest.raises(AuthError) as info:
        await JwtAuthenticator(cfg or config()).authenticate(token)
    message = str(info.value)
    assert message.startswith("invalid token")
    assert not token or token not in message
    return message


async def test_valid_token() -> None:
    principal = await JwtAuthenticator(config()).authenticate(mint(claims()))
    assert principal.subject == "agent_jwt"
    assert principal.scopes == ALL_SCOPES
    assert principal.mode is AuthMode.JWT
    assert principal.identity == "jwt:agent_jwt"


@pytest.mark.parametrize(
    ("extra", "scopes"),
    [
        ({"scopes": ["read"]}, {Scope.READ}),
        ({"scopes": "read list"}, {Scope.READ, Scope.LIST}),
        ({"scope": "write delete"}, {Scope.WRITE, Scope.DELETE}),
        ({"scopes": []}, set()),
        ({"scopes": ["read"], "scope": "write"}, {Scope.READ}),  # `scopes` wins
    ],
)
async def test_scopes_claim(extra: dict[str, Any], scopes: set[Scope]) -> None:
    principal = await JwtAuthenticator(config()).authenticate(mint(claims(**extra)))
    assert principal.scopes == frozenset(scopes)


async def test_audience_list_containing_ours() -> None:
    token = mint(claims(aud=["other", AUDIENCE]))
    assert (await JwtAuthenticator(config()).authenticate(token)).subject == "agent_jwt"


async def test_no_issuer_or_audience_configured_accepts_any() -> None:
    cfg = config(issuer=None, audience=None)
    token = mint(claims(iss="whoever", aud="anything"))
    assert (await JwtAuthenticator(cfg).authenticate(token)).subject == "agent_jwt"
    bare = mint(claims(iss=None, aud=None))
    assert (await JwtAuthenticator(cfg).authenticate(bare)).subject == "agent_jwt"


async def test_leeway_tolerates_small_clock_skew() -> None:
    token = mint(claims(exp=int(time.time()) - 5))
    assert (await JwtAuthenticator(config()).authenticate(token)).subject == "agent_jwt"


async def test_expired() -> None:
    assert "expired" in await refused(mint(claims(exp=int(time.time()) - 3600)))


async def test_expired_without_leeway() -> None:
    token = mint(claims(exp=int(time.time()) - 5))
    assert "expired" in await refused(token, config(leeway_seconds=0))


async def test_nbf_in_the_future() -> None:
    assert "not yet valid" in await refused(mint(claims(nbf=int(time.time()) + 3600)))


async def test_iat_in_the_future() -> None:
    assert "not yet valid" in await refused(mint(claims(iat=int(time.time()) + 3600)))


async def test_wrong_issuer() -> None:
    assert "wrong issuer" in await refused(mint(claims(iss="https://evil.example")))


async def test_wrong_audience() -> None:
    assert "wrong audience" in await refused(mint(claims(aud="someone-else")))


@pytest.mark.parametrize("claim", ["sub", "exp", "iss", "aud"])
async def test_missing_required_claim(claim: str) -> None:
    assert f"missing claim '{claim}'" in await refused(mint(claims(**{claim: None})))


async def test_wrong_secret() -> None:
    assert "signature" in await refused(mint(claims(), key=OTHER_SECRET))


async def test_tampered_payload() -> None:
    header, _, signature = mint(claims()).split(".")
    forged = unsigned({"alg": "HS256", "typ": "JWT"}, claims(sub="admin")).split(".")[1]
    assert "signature" in await refused(f"{header}.{forged}.{signature}")


@pytest.mark.parametrize("alg", ["none", "None", "NONE"])
async def test_alg_none(alg: str) -> None:
    assert "algorithm not allowed" in await refused(unsigned({"alg": alg}, claims()))


async def test_alg_none_even_if_listed() -> None:
    # Configuration refuses "none"; even so the verifier must never accept an unsigned token.
    cfg = config(algorithms=("HS256", "none"))
    await refused(unsigned({"alg": "none"}, claims()), cfg)


@pytest.mark.parametrize("alg", ["HS384", "HS512"])
async def test_alg_not_in_the_allowed_list(alg: str) -> None:
    assert "algorithm not allowed" in await refused(mint(claims(), algorithm=alg))


async def test_other_hmac_algorithm_when_allowed() -> None:
    cfg = config(algorithms=("HS256", "HS512"))
    token = mint(claims(), algorithm="HS512")
    assert (await JwtAuthenticator(cfg).authenticate(token)).subject == "agent_jwt"


async def test_asymmetric_alg_without_jwks() -> None:
    token = unsigned({"alg": "RS256"}, claims()) + "c2ln"
    assert "no JWKS" in await refused(token, config(algorithms=("HS256", "RS256")))


async def test_hmac_token_without_a_secret() -> None:
    cfg = config(hs256_secret=None, jwks_url="https://idp.example/jwks.json")
    assert "HMAC tokens are not accepted" in await refused(mint(claims()), cfg)


async def test_oversized_token() -> None:
    token = mint(claims(padding="x" * MAX_TOKEN_BYTES))
    assert len(token) > MAX_TOKEN_BYTES
    assert "too large" in await refused(token)


@pytest.mark.parametrize(
    "token",
    ["", "abc", "a.b", "a.b.c", "....", "eyJhbGciOiJIUzI1NiJ9.e30"],
)
async def test_malformed_tokens(token: str) -> None:
    await refused(token)


@pytest.mark.parametrize("alg", [None, 5, ["HS256"]])
async def test_header_alg_not_a_string(alg: object) -> None:
    assert "malformed" in await refused(unsigned({"alg": alg}, claims()))


@pytest.mark.parametrize(
    "scopes", [["read", "admin"], "sudo", 5, {"read": True}, [None], ["read write"]]
)
async def test_bad_scopes_claim(scopes: object) -> None:
    await refused(mint(claims(scopes=scopes)))


@pytest.mark.parametrize(
    "sub", ["", "../bob", "a/b", "-a", "a b", "x" * 129, 5, ["alice"], {"id": "a"}]
)
async def test_subject_not_a_valid_agent_id(sub: object) -> None:
    await refused(mint(claims(sub=sub)))
