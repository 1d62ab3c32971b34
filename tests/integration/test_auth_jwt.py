"""JWT bearer authentication against the real sidecar: HS256 and RS256/ES256 via a real JWKS.

Each bad token is a 401 with a JSON `detail`; the JWKS endpoint is a local HTTP server, so
the sidecar's own fetching, caching and key rotation are what is exercised.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from devkit.jwks import JwksServer, PrivateKey, generate_key, mint, standard_claims
from devkit.openbao import OpenBao
from devkit.sidecar import SidecarProcess
from tests.integration.conftest import JWT_SECRET, sidecar_env

ISSUER = "https://issuer.test"
AUDIENCE = "vault-mcp-bridge"
OTHER_SECRET = "another-hs256-secret-that-is-long-enough-0123"


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def hs256(claims: dict[str, Any], secret: str = JWT_SECRET, **headers: Any) -> str:
    return jwt.encode(claims, secret, algorithm="HS256", headers=headers or None)


def handmade(header: dict[str, Any], claims: dict[str, Any], signature: bytes = b"") -> str:
    """A compact JWS built by hand, for tokens PyJWT refuses to produce."""
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
    return f"{signing_input}.{b64url(signature)}"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def claims(sub: str = "alice", **extra: Any) -> dict[str, Any]:
    return standard_claims(sub, ISSUER, AUDIENCE, **extra)


def assert_401(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["content-type"].startswith("application/json")
    detail = response.json()["detail"]
    assert isinstance(detail, str)
    assert detail


@pytest.fixture(scope="module")
def jwks() -> Iterator[JwksServer]:
    with JwksServer() as server:
        yield server


@pytest.fixture(scope="module")
def rsa_key(jwks: JwksServer) -> PrivateKey:
    return jwks.add_key("rsa-1", "RS256")


@pytest.fixture(scope="module")
def ec_key(jwks: JwksServer) -> PrivateKey:
    return jwks.add_key("ec-1", "ES256")


@pytest.fixture(scope="module")
def hs_sidecar(openbao: OpenBao, jwks: JwksServer) -> Iterator[SidecarProcess]:
    """HS256 only (the default JWT_ALGORITHMS), although a JWKS URL is configured too."""
    env = sidecar_env(openbao, JWT_ISSUER=ISSUER, JWT_AUDIENCE=AUDIENCE, JWT_JWKS_URL=jwks.url)
    with SidecarProcess(env) as process:
        yield process


@pytest.fixture(scope="module")
def jwks_sidecar(openbao: OpenBao, jwks: JwksServer) -> Iterator[SidecarProcess]:
    """HS256 (with a secret), RS256 and ES256 (from the JWKS) all allowed."""
    env = sidecar_env(
        openbao,
        JWT_ISSUER=ISSUER,
        JWT_AUDIENCE=AUDIENCE,
        JWT_JWKS_URL=jwks.url,
        JWT_ALGORITHMS="HS256,RS256,ES256",
        JWT_JWKS_REFRESH_COOLDOWN_SECONDS="0",
    )
    with SidecarProcess(env) as process:
        yield process


# -- HS256 -------------------------------------------------------------------------------------


def test_hs256_whoami_subject_and_scopes_list(hs_sidecar: SidecarProcess) -> None:
    token = hs256(claims("alice", scopes=["read", "list"]))
    response = httpx.get(f"{hs_sidecar.url}/whoami", headers=bearer(token))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["subject"] == "alice"
    assert body["scopes"] == ["list", "read"]
    assert body["auth_mode"] == "jwt"


def test_hs256_scope_claim_space_separated(hs_sidecar: SidecarProcess) -> None:
    token = hs256(claims("bob", scope="read write delete"))
    response = httpx.get(f"{hs_sidecar.url}/whoami", headers=bearer(token))
    assert response.status_code == 200, response.text
    assert response.json()["subject"] == "bob"
    assert response.json()["scopes"] == ["delete", "read", "write"]


def test_hs256_secret_round_trip(hs_sidecar: SidecarProcess) -> None:
    token = hs256(claims("alice", scopes=["read", "write"]))
    path = f"jwt/{uuid.uuid4().hex}"
    put = httpx.put(
        f"{hs_sidecar.url}/secrets/{path}", headers=bearer(token), json={"data": {"k": "v"}}
    )
    assert put.status_code == 200, put.text
    got = httpx.get(f"{hs_sidecar.url}/secrets/{path}", headers=bearer(token))
    assert got.status_code == 200, got.text
    assert got.json()["data"] == {"k": "v"}


def test_hs256_without_write_scope_cannot_put(hs_sidecar: SidecarProcess) -> None:
    token = hs256(claims("alice", scopes=["read", "list"]))
    path = f"jwt/{uuid.uuid4().hex}"
    put = httpx.put(
        f"{hs_sidecar.url}/secrets/{path}", headers=bearer(token), json={"data": {"k": "v"}}
    )
    assert put.status_code == 403, put.text
    assert "write" in put.json()["detail"]


def _now() -> int:
    return int(time.time())


def _without(claim: str) -> dict[str, Any]:
    body = claims("alice")
    del body[claim]
    return body


def _oversized() -> str:
    return hs256(claims("alice", padding="x" * 9000))


BAD_HS_TOKENS: dict[str, Any] = {
    "wrong-iss": lambda: hs256(standard_claims("alice", "https://evil.test", AUDIENCE)),
    "wrong-aud": lambda: hs256(standard_claims("alice", ISSUER, "someone-else")),
    "expired": lambda: hs256(claims("alice", ttl=-600)),
    "future-nbf": lambda: hs256(claims("alice") | {"nbf": _now() + 600}),
    "missing-sub": lambda: hs256(_without("sub")),
    "missing-exp": lambda: hs256(_without("exp")),
    "missing-iss": lambda: hs256(_without("iss")),
    "missing-aud": lambda: hs256(_without("aud")),
    "alg-none": lambda: handmade({"alg": "none", "typ": "JWT"}, claims("alice")),
    "alg-none-upper": lambda: handmade({"alg": "NONE", "typ": "JWT"}, claims("alice")),
    "other-secret": lambda: hs256(claims("alice"), secret=OTHER_SECRET),
    "oversized": _oversized,
    "garbage": lambda: "garbage",
    "three-garbage-parts": lambda: "a.b.c",
    "bad-sub": lambda: hs256(claims("../bob")),
    "sub-not-a-string": lambda: hs256(claims("alice") | {"sub": 42}),
    "unknown-scope": lambda: hs256(claims("alice", scopes=["admin"])),
}


@pytest.mark.parametrize("case", sorted(BAD_HS_TOKENS))
def test_hs256_bad_tokens_are_401(hs_sidecar: SidecarProcess, case: str) -> None:
    token = BAD_HS_TOKENS[case]()
    if case == "oversized":
        assert len(token) > 8192
    for url in (f"{hs_sidecar.url}/whoami", f"{hs_sidecar.url}/secrets/jwt/anything"):
        response = httpx.get(url, headers=bearer(token))
        assert_401(response)
        # The error never echoes the token back.
        assert token not in response.text


@pytest.mark.parametrize(
    "authorization", ["Basic YWxpY2U6cHc=", "Bearer", "Token abc.def.ghi", "Bearer a b"]
)
def test_malformed_authorization_header_is_401(
    hs_sidecar: SidecarProcess, authorization: str
) -> None:
    response = httpx.get(f"{hs_sidecar.url}/whoami", headers={"Authorization": authorization})
    assert_401(response)


def test_bad_token_cannot_write(hs_sidecar: SidecarProcess) -> None:
    path = f"jwt/{uuid.uuid4().hex}"
    token = hs256(claims("alice"), secret=OTHER_SECRET)
    put = httpx.put(
        f"{hs_sidecar.url}/secrets/{path}", headers=bearer(token), json={"data": {"k": "v"}}
    )
    assert_401(put)
    good = hs256(claims("alice"))
    assert httpx.get(f"{hs_sidecar.url}/secrets/{path}", headers=bearer(good)).status_code == 404


def test_rs256_rejected_when_only_hs256_allowed(
    hs_sidecar: SidecarProcess, rsa_key: PrivateKey
) -> None:
    token = mint(rsa_key, "rsa-1", "RS256", claims("alice"))
    assert_401(httpx.get(f"{hs_sidecar.url}/whoami", headers=bearer(token)))


# -- RS256 / ES256 via JWKS --------------------------------------------------------------------


def test_rs256_valid(jwks_sidecar: SidecarProcess, rsa_key: PrivateKey) -> None:
    token = mint(rsa_key, "rsa-1", "RS256", claims("alice", scopes=["read"]))
    response = httpx.get(f"{jwks_sidecar.url}/whoami", headers=bearer(token))
    assert response.status_code == 200, response.text
    assert response.json()["subject"] == "alice"
    assert response.json()["scopes"] == ["read"]


def test_es256_valid_and_round_trip(jwks_sidecar: SidecarProcess, ec_key: PrivateKey) -> None:
    token = mint(ec_key, "ec-1", "ES256", claims("bob"))
    response = httpx.get(f"{jwks_sidecar.url}/whoami", headers=bearer(token))
    assert response.status_code == 200, response.text
    assert response.json()["subject"] == "bob"
    path = f"es/{uuid.uuid4().hex}"
    put = httpx.put(
        f"{jwks_sidecar.url}/secrets/{path}", headers=bearer(token), json={"data": {"a": "b"}}
    )
    assert put.status_code == 200, put.text
    got = httpx.get(f"{jwks_sidecar.url}/secrets/{path}", headers=bearer(token))
    assert got.json()["data"] == {"a": "b"}


def test_hs256_still_accepted_alongside_jwks(jwks_sidecar: SidecarProcess) -> None:
    response = httpx.get(f"{jwks_sidecar.url}/whoami", headers=bearer(hs256(claims("alice"))))
    assert response.status_code == 200, response.text


def test_unknown_kid_is_401(jwks_sidecar: SidecarProcess) -> None:
    stranger = generate_key("RS256")
    token = mint(stranger, "never-published", "RS256", claims("alice"))
    assert_401(httpx.get(f"{jwks_sidecar.url}/whoami", headers=bearer(token)))


def test_known_kid_wrong_key_is_401(jwks_sidecar: SidecarProcess, rsa_key: PrivateKey) -> None:
    del rsa_key  # published under rsa-1; sign with another key claiming that kid
    impostor = generate_key("RS256")
    token = mint(impostor, "rsa-1", "RS256", claims("alice"))
    assert_401(httpx.get(f"{jwks_sidecar.url}/whoami", headers=bearer(token)))


def test_jwks_token_with_wrong_audience_is_401(
    jwks_sidecar: SidecarProcess, rsa_key: PrivateKey
) -> None:
    token = mint(rsa_key, "rsa-1", "RS256", standard_claims("alice", ISSUER, "other"))
    assert_401(httpx.get(f"{jwks_sidecar.url}/whoami", headers=bearer(token)))


def test_key_rotation_new_kid_is_accepted(jwks_sidecar: SidecarProcess, jwks: JwksServer) -> None:
    kid = f"rotated-{uuid.uuid4().hex[:8]}"
    # Warm the cache first so the new kid is truly unknown to the sidecar at first sight.
    warm = mint(jwks.add_key(f"warm-{kid}", "ES256"), f"warm-{kid}", "ES256", claims("alice"))
    assert httpx.get(f"{jwks_sidecar.url}/whoami", headers=bearer(warm)).status_code == 200
    new_key = jwks.add_key(kid, "RS256")
    token = mint(new_key, kid, "RS256", claims("bob"))
    response = httpx.get(f"{jwks_sidecar.url}/whoami", headers=bearer(token))
    assert response.status_code == 200, response.text
    assert response.json()["subject"] == "bob"


def test_jwks_is_cached(jwks_sidecar: SidecarProcess, jwks: JwksServer) -> None:
    kid = f"cached-{uuid.uuid4().hex[:8]}"
    key = jwks.add_key(kid, "ES256")
    token = mint(key, kid, "ES256", claims("alice"))
    before = jwks.hits
    with httpx.Client(base_url=jwks_sidecar.url, headers=bearer(token)) as client:
        for _ in range(25):
            assert client.get("/whoami").status_code == 200
    assert jwks.hits - before <= 2


def test_hs_rs_confusion_is_401(jwks_sidecar: SidecarProcess, rsa_key: PrivateKey) -> None:
    """HS256 'signed' with the RSA public key PEM as HMAC secret: the classic confusion."""
    public_pem = rsa_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = {"alg": "HS256", "typ": "JWT", "kid": "rsa-1"}
    body = claims("alice")
    signing_input = handmade(header, body).rsplit(".", 1)[0].encode()
    signature = hmac.new(public_pem, signing_input, hashlib.sha256).digest()
    token = handmade(header, body, signature)
    assert_401(httpx.get(f"{jwks_sidecar.url}/whoami", headers=bearer(token)))


def test_alg_none_with_jwks_kid_is_401(jwks_sidecar: SidecarProcess, rsa_key: PrivateKey) -> None:
    del rsa_key
    token = handmade({"alg": "none", "kid": "rsa-1"}, claims("alice"))
    assert_401(httpx.get(f"{jwks_sidecar.url}/whoami", headers=bearer(token)))


def test_made_up_kids_cannot_hammer_the_jwks_endpoint(openbao: OpenBao) -> None:
    """Within the refresh cooldown, tokens with unknown kids cost no extra JWKS fetches."""
    with JwksServer() as guarded_jwks:
        real = guarded_jwks.add_key("real", "ES256")
        env = sidecar_env(
            openbao,
            JWT_JWKS_URL=guarded_jwks.url,
            JWT_ALGORITHMS="ES256",
            JWT_JWKS_REFRESH_COOLDOWN_SECONDS="3600",
        )
        with SidecarProcess(env) as sidecar, httpx.Client(base_url=sidecar.url) as client:
            good = mint(real, "real", "ES256", {"sub": "alice", "exp": _now() + 300})
            assert client.get("/whoami", headers=bearer(good)).status_code == 200
            for i in range(20):
                forged = mint(generate_key("ES256"), f"made-up-{i}", "ES256", claims("alice"))
                assert_401(client.get("/whoami", headers=bearer(forged)))
            assert guarded_jwks.hits <= 2
