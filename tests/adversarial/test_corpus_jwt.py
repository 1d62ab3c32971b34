"""JWT attacks against both JWT set-ups: HS256 with a shared secret, and RS256 from a JWKS.

Every forged, stale, mistyped or malformed token must be a 401 with a JSON `detail` (and a
`WWW-Authenticate` challenge) on every route — the fast read lane, FastAPI's routes, Transit —
and on the MCP endpoint; the answer must not repeat the token; and Vault must see nothing.
`tests/integration/test_auth_jwt.py` has the HS256 basics (taken here as they are); this adds
the JWKS side, header tricks (`kid`, `jku`, embedded `jwk`, `typ`, `crit`) and encodings.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from devkit.jwks import JwksServer, PrivateKey, generate_key, public_jwk, standard_claims
from devkit.openbao import OpenBao
from devkit.sidecar import SidecarProcess
from tests.adversarial.conftest import AUDIENCE, ISSUER, RSA_KID, Audit, assert_refused
from tests.adversarial.wire import send
from tests.integration.conftest import JWT_SECRET
from tests.integration.mcp_helpers import IGNORE_DEPRECATION, connect_status

pytestmark = pytest.mark.filterwarnings(IGNORE_DEPRECATION)


@dataclass(frozen=True)
class Keys:
    idp: PrivateKey  # the identity provider's key, published in the JWKS as RSA_KID
    attacker_rsa: PrivateKey
    attacker_ec: PrivateKey
    attacker_jwks_url: str  # a JWKS the attacker controls, serving `attacker_rsa` as "evil"


Forge = Callable[[Keys], str]


@pytest.fixture(scope="module")
def keys(rsa_key: PrivateKey) -> Iterator[Keys]:
    with JwksServer() as attacker_jwks:
        attacker = generate_key("RS256")
        attacker_jwks.set_keys({"evil": attacker})
        yield Keys(rsa_key, attacker, generate_key("ES256"), attacker_jwks.url)


def _now() -> int:
    return int(time.time())


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def claims(sub: Any = "alice", **extra: Any) -> dict[str, Any]:
    return standard_claims("alice", ISSUER, AUDIENCE) | {"sub": sub} | extra


def without(claim: str) -> dict[str, Any]:
    body = claims()
    del body[claim]
    return body


def hs(body: dict[str, Any], secret: str | bytes = JWT_SECRET, **header: Any) -> str:
    return jwt.encode(body, secret, algorithm="HS256", headers=header or None)


def rs(key: PrivateKey, body: dict[str, Any], alg: str = "RS256", **header: Any) -> str:
    return jwt.encode(body, key, algorithm=alg, headers=header)


def handmade(header: Any, body: Any, signature: bytes = b"") -> str:
    """A compact JWS built by hand, for shapes no library will produce."""
    head = b64url(json.dumps(header).encode())
    return f"{head}.{b64url(json.dumps(body).encode())}.{b64url(signature)}"


def hmac_signed(header: dict[str, Any], body: dict[str, Any], secret: bytes) -> str:
    """HS256 over a hand-made header, with any bytes as the secret (a PEM, a JWK)."""
    signing_input = handmade(header, body).rsplit(".", 1)[0]
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(signature)}"


def public_pem(key: PrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def embedded_jwk(k: Keys) -> str:
    """The attacker's own public key in the header (`jwk`), signed with its private half."""
    jwk = public_jwk(k.attacker_rsa, RSA_KID)
    return rs(k.attacker_rsa, claims(), kid=RSA_KID, jwk=jwk)


def b64_tricks() -> dict[str, Forge]:
    good_claims = b64url(json.dumps(claims()).encode())
    return {
        "garbage": lambda k: "garbage",
        "three-garbage-parts": lambda k: "a.b.c",
        "two-parts": lambda k: hs(claims()).rsplit(".", 1)[0],
        "four-parts": lambda k: hs(claims()) + ".e30",
        "empty-parts": lambda k: "..",
        "header-not-base64": lambda k: "!!!." + good_claims + ".sig",
        "header-not-json": lambda k: b64url(b"not json") + "." + good_claims + ".sig",
        "header-json-array": lambda k: handmade(["HS256"], claims()),
        "payload-not-json": lambda k: hmac_signed_raw(b"not json"),
        "payload-json-array": lambda k: hmac_signed_raw(b'["alice"]'),
        "padding-appended": lambda k: hs(claims()) + "==",
        "standard-base64": lambda k: hs(claims()).replace("-", "+").replace("_", "/") + "+/",
        "space-inside": lambda k: hs(claims()).replace(".", ". ", 1),
    }


def hmac_signed_raw(payload: bytes) -> str:
    """A correctly HS256-signed token whose payload is `payload` exactly (not JSON claims)."""
    signing_input = f"{b64url(json.dumps({'alg': 'HS256', 'typ': 'JWT'}).encode())}."
    signing_input += b64url(payload)
    signature = hmac.new(JWT_SECRET.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(signature)}"


# id -> how to forge it. Each goes to both sidecars: a token one set-up refuses for one reason
# (wrong algorithm) the other must refuse for another (no key, bad signature).
ATTACKS: dict[str, Forge] = {
    # algorithm: none, and confusion between HMAC and RSA
    "alg-none": lambda k: handmade({"alg": "none", "typ": "JWT"}, claims()),
    "alg-None": lambda k: handmade({"alg": "None"}, claims()),
    "alg-nOnE": lambda k: handmade({"alg": "nOnE"}, claims()),
    "alg-none-kid": lambda k: handmade({"alg": "none", "kid": RSA_KID}, claims()),
    "alg-none-with-signature": lambda k: handmade({"alg": "none"}, claims(), b"\x01" * 32),
    "alg-empty": lambda k: handmade({"alg": ""}, claims()),
    "alg-missing": lambda k: handmade({"typ": "JWT"}, claims()),
    "hs-with-rsa-public-pem": lambda k: hmac_signed(
        {"alg": "HS256", "typ": "JWT", "kid": RSA_KID}, claims(), public_pem(k.idp)
    ),
    "hs-with-rsa-public-jwk": lambda k: hmac_signed(
        {"alg": "HS256", "kid": RSA_KID},
        claims(),
        json.dumps(public_jwk(k.idp, RSA_KID)).encode(),
    ),
    "hs-other-secret": lambda k: hs(claims(), "another-secret-that-is-long-enough-0123456789"),
    "hs-empty-secret": lambda k: hmac_signed({"alg": "HS256"}, claims(), b""),
    "ps256-with-idp-key": lambda k: rs(k.idp, claims(), "PS256", kid=RSA_KID),
    "rs512-with-idp-key": lambda k: rs(k.idp, claims(), "RS512", kid=RSA_KID),
    "es256-claiming-idp-kid": lambda k: rs(k.attacker_ec, claims(), "ES256", kid=RSA_KID),
    # kid, jku, embedded jwk: the attacker's key, dressed up as the identity provider's
    "rs-attacker-key-idp-kid": lambda k: rs(k.attacker_rsa, claims(), kid=RSA_KID),
    "rs-unknown-kid": lambda k: rs(k.attacker_rsa, claims(), kid="never-published"),
    "rs-no-kid": lambda k: jwt.encode(claims(), k.attacker_rsa, algorithm="RS256"),
    "kid-path-traversal": lambda k: rs(k.attacker_rsa, claims(), kid="../../../../dev/null"),
    "kid-path-traversal-hs": lambda k: hmac_signed(
        {"alg": "HS256", "kid": "../../../../dev/null"}, claims(), b""
    ),
    "kid-sql": lambda k: rs(k.attacker_rsa, claims(), kid="x' UNION SELECT 'key'--"),
    "kid-url": lambda k: rs(k.attacker_rsa, claims(), kid=k.attacker_jwks_url),
    "kid-nul": lambda k: rs(k.attacker_rsa, claims(), kid=RSA_KID + "\x00"),
    "kid-not-a-string": lambda k: handmade({"alg": "RS256", "kid": [RSA_KID]}, claims(), b"s"),
    "jku-attacker-jwks": lambda k: rs(
        k.attacker_rsa, claims(), kid="evil", jku=k.attacker_jwks_url
    ),
    "x5u-attacker-jwks": lambda k: rs(
        k.attacker_rsa, claims(), kid="evil", x5u=k.attacker_jwks_url
    ),
    "embedded-jwk": embedded_jwk,
    # claims: time, issuer, audience, subject (signed with the right key: only the claim is off)
    "expired": lambda k: hs(claims(exp=_now() - 600)),
    "expired-beyond-leeway": lambda k: hs(claims(exp=_now() - 45)),
    "future-nbf": lambda k: hs(claims(nbf=_now() + 600)),
    "future-iat": lambda k: hs(claims(iat=_now() + 600)),
    "exp-not-a-number": lambda k: hs(claims(exp="tomorrow")),
    "wrong-iss": lambda k: hs(claims(iss="https://evil.test")),
    "iss-different-case": lambda k: hs(claims(iss=ISSUER.upper())),
    "wrong-aud": lambda k: hs(claims(aud="someone-else")),
    "aud-list-without-ours": lambda k: hs(claims(aud=["a", "b"])),
    "missing-sub": lambda k: hs(without("sub")),
    "missing-exp": lambda k: hs(without("exp")),
    "missing-iss": lambda k: hs(without("iss")),
    "missing-aud": lambda k: hs(without("aud")),
    "sub-dotdot": lambda k: hs(claims("../bob")),
    "sub-embedded-dotdot": lambda k: hs(claims("alice/../bob")),
    "sub-empty": lambda k: hs(claims("")),
    "sub-space": lambda k: hs(claims("alice bob")),
    "sub-fullwidth": lambda k: hs(claims("\uff41lice")),
    "sub-nul": lambda k: hs(claims("alice\x00")),
    "sub-leading-dash": lambda k: hs(claims("-alice")),
    "sub-too-long": lambda k: hs(claims("a" * 129)),
    "sub-number": lambda k: hs(claims(42)),
    "sub-list": lambda k: hs(claims(["alice"])),
    "sub-null": lambda k: hs(claims(None)),
    "scope-unknown": lambda k: hs(claims(scopes=["admin"])),
    "rs-expired": lambda k: rs(k.idp, claims(exp=_now() - 600), kid=RSA_KID),
    "rs-wrong-aud": lambda k: rs(k.idp, claims(aud="someone-else"), kid=RSA_KID),
    "rs-wrong-iss": lambda k: rs(k.idp, claims(iss="https://evil.test"), kid=RSA_KID),
    "rs-sub-dotdot": lambda k: rs(k.idp, claims("../bob"), kid=RSA_KID),
    # header: size, type, critical extensions
    "oversized-token": lambda k: hs(claims(padding="x" * 9000)),
    "oversized-header": lambda k: hs(claims(), kid="k" * 9000),
    "typ-logout-token": lambda k: hs(claims(), typ="logout+jwt"),
    "typ-security-event": lambda k: hs(claims(), typ="secevent+jwt"),
    "rs-typ-dpop": lambda k: rs(k.idp, claims(), kid=RSA_KID, typ="dpop+jwt"),
    "crit-unknown-extension": lambda k: jwt.encode(
        claims(), JWT_SECRET, algorithm="HS256", headers={"crit": ["x-ext"], "x-ext": True}
    ),
    **b64_tricks(),
}
SIDECARS = ("hs_sidecar", "rs_sidecar")
ROUTES: list[tuple[str, bytes, bytes]] = [
    ("GET", b"/whoami", b""),
    ("GET", b"/secrets/jwt-target", b""),  # the fast read lane
    ("GET", b"/secrets/jwt-target?version=1", b""),
    ("PUT", b"/secrets/jwt-target", b'{"data": {"v": "forged"}}'),
    ("POST", b"/transit/encrypt", b'{"key": "k", "plaintext": "aGk="}'),
]


@pytest.fixture(scope="module", params=SIDECARS)
def target(request: pytest.FixtureRequest) -> SidecarProcess:
    sidecar: SidecarProcess = request.getfixturevalue(request.param)
    return sidecar


def test_the_right_tokens_are_accepted(
    keys: Keys, hs_sidecar: SidecarProcess, rs_sidecar: SidecarProcess
) -> None:
    """The controls: the corpus fails for what each token does wrong, not for a set-up error."""
    for sidecar, token in (
        (hs_sidecar, hs(claims())),
        (rs_sidecar, rs(keys.idp, claims(), kid=RSA_KID)),
        (rs_sidecar, rs(keys.idp, claims(), kid=RSA_KID, typ="at+jwt")),
    ):
        reply = send(sidecar.port, "GET", b"/whoami", [("Authorization", f"Bearer {token}")])
        assert reply.status == 200, reply.text
        assert reply.json()["subject"] == "alice"


@pytest.mark.parametrize("attack", sorted(ATTACKS))
async def test_jwt_attack_is_401_and_never_reaches_vault(
    adv_bao: OpenBao, keys: Keys, target: SidecarProcess, attack: str
) -> None:
    token = ATTACKS[attack](keys)
    audit = Audit.mark(adv_bao)
    credential = ("Authorization", "Bearer " + token)
    for method, route, body in ROUTES:
        headers = [credential, ("Content-Type", "application/json")] if body else [credential]
        reply = send(target.port, method, route, headers, body)
        assert_refused(reply.status, reply.headers.get("content-type", ""), reply.text, 401, token)
        assert "Bearer" in reply.headers.get("www-authenticate", ""), route
    assert await connect_status(target.url, {"Authorization": f"Bearer {token}"}) == 401
    audit.assert_nothing_reached_vault()
