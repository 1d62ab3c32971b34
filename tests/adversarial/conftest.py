"""The adversarial tier's real parts: one audited OpenBao and the sidecars the attacks target.

Everything is session-scoped: the corpora and the generated run share one OpenBao (with its
file audit device, which is how "nothing reached Vault" is observed) and two sidecars:

- `hs_sidecar`: API keys, HS256 JWTs (with issuer and audience), mTLS identity headers with a
  trusted-proxy list that excludes this test process (so its identity headers are forged ones),
  child tokens on (so even an authentication slip would show as an `auth/token/create`),
  rate limiting off (the generated run sends a thousand requests as one agent).
- `rs_sidecar`: RS256 only, keys from a real JWKS endpoint, no HMAC secret — the set-up where
  HS/RS algorithm confusion would bite if the algorithm were not pinned.

`ADVERSARIAL_LONG=1` (what `make adversarial` sets) multiplies the generated cases.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from devkit.jwks import JwksServer, PrivateKey
from devkit.openbao import OpenBao
from devkit.sidecar import SidecarProcess
from tests.integration.conftest import API_KEYS, JWT_SECRET, provision
from tests.integration.vault_support import KEY_OF
from tests.parts import openbao_server

ISSUER = "https://issuer.adversarial.test"
AUDIENCE = "vault-mcp-bridge"
RSA_KID = "rsa-1"
# The only peers whose identity headers are believed; the tests connect from 127.0.0.1.
TRUSTED_PROXIES = "10.255.255.0/24"
ALICE_KEY = KEY_OF["alice"]


def long_run() -> bool:
    """The deep run: `ADVERSARIAL_LONG=1` (set by `make adversarial`)."""
    return os.environ.get("ADVERSARIAL_LONG", "") not in ("", "0", "false")


@dataclass(frozen=True)
class Audit:
    """A position in OpenBao's audit log, and what Vault was asked after it.

    Only complete lines count: OpenBao may be part-way through writing an entry (a large body
    is not written in one go), and a half line is neither an entry nor valid JSON yet. Every
    entry of a request the sidecar has answered is complete, since Vault logs before it replies.
    """

    bao: OpenBao
    start: int

    @classmethod
    def mark(cls, bao: OpenBao) -> Audit:
        return cls(bao, len(_complete_lines(bao)))

    def entries(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in _complete_lines(self.bao)[self.start :]]

    def requests(self) -> list[str]:
        """`operation path` of every request Vault received since the mark."""
        return [
            f"{entry['request'].get('operation', '?')} {entry['request'].get('path', '')}"
            for entry in self.entries()
            if entry.get("type") == "request"
        ]

    def assert_nothing_reached_vault(self) -> None:
        requests = self.requests()
        assert requests == [], f"Vault was asked: {requests}"


def _complete_lines(bao: OpenBao) -> list[bytes]:
    if not bao.audit_log.exists():
        return []
    return bao.audit_log.read_bytes().split(b"\n")[:-1]  # the last piece is "" or a half line


@pytest.fixture(scope="session")
def adv_bao() -> Iterator[OpenBao]:
    """Dev-mode OpenBao with a file audit device; agents alice and bob provisioned."""
    with openbao_server(audit=True) as bao:
        provision(bao)
        yield bao


@pytest.fixture(scope="session")
def adv_jwks() -> Iterator[JwksServer]:
    with JwksServer() as server:
        yield server


@pytest.fixture(scope="session")
def rsa_key(adv_jwks: JwksServer) -> PrivateKey:
    """The identity provider's signing key, published in the JWKS under `RSA_KID`."""
    return adv_jwks.add_key(RSA_KID, "RS256")


def _base_env(bao: OpenBao, **overrides: str) -> dict[str, str]:
    return {
        "VAULT_ADDR": bao.addr,
        "VAULT_TOKEN": bao.token,
        "API_KEYS_JSON": json.dumps(API_KEYS),
        "JWT_ISSUER": ISSUER,
        "JWT_AUDIENCE": AUDIENCE,
        "AUTH_MTLS_ENABLED": "true",
        "MTLS_TRUSTED_PROXIES": TRUSTED_PROXIES,
        "CHILD_TOKEN_ENABLED": "true",
        "RATE_LIMIT_ENABLED": "false",
        "LOG_LEVEL": "warning",
    } | overrides


def _warmed(sidecar: SidecarProcess) -> SidecarProcess:
    """One valid request first, so the sidecar's own start-up Vault calls (its token lookup)
    are behind us and every later audit entry is caused by the request under test."""
    response = httpx.get(f"{sidecar.url}/secrets", headers={"X-API-Key": ALICE_KEY})
    assert response.status_code == 200, response.text
    return sidecar


@pytest.fixture(scope="session")
def hs_sidecar(adv_bao: OpenBao) -> Iterator[SidecarProcess]:
    """API key + HS256 JWT + (untrusted) mTLS headers; child tokens on; no rate limit."""
    with SidecarProcess(_base_env(adv_bao, JWT_HS256_SECRET=JWT_SECRET)) as process:
        yield _warmed(process)


@pytest.fixture(scope="session")
def rs_sidecar(
    adv_bao: OpenBao, adv_jwks: JwksServer, rsa_key: PrivateKey
) -> Iterator[SidecarProcess]:
    """RS256 only, from the JWKS; no HMAC secret at all."""
    del rsa_key  # published before the sidecar first fetches the key set
    env = _base_env(adv_bao, JWT_ALGORITHMS="RS256", JWT_JWKS_URL=adv_jwks.url)
    with SidecarProcess(env) as process:
        yield _warmed(process)


def assert_refused(
    status: int,
    content_type: str,
    text: str,
    expected: int,
    attack: str | bytes | None = None,
) -> None:
    """An answer is the expected 4xx with a DESIGN §5 JSON error body, and does not repeat the
    attacker's input (which may be a token, a forged identity or a secret value)."""
    assert status == expected, f"{status} (expected {expected}): {text[:300]}"
    assert content_type.startswith("application/json"), content_type
    body = json.loads(text)
    assert isinstance(body, dict), body
    assert set(body) == {"detail"}, body
    detail = body["detail"]
    if status == 422:  # request validation: where and why, never the input itself
        assert isinstance(detail, list), detail
        assert all(set(item) == {"loc", "msg", "type"} for item in detail), detail
    else:
        assert isinstance(detail, str), detail
        assert detail
    if attack is not None:
        assert not echoes(text, attack), f"the answer repeats the attack: {text[:300]}"


def echoes(text: str, attack: str | bytes) -> bool:
    """Whether `text` contains `attack` (raw or JSON-escaped). Inputs shorter than 4 characters
    ("..", "/", "") are left out: any text may contain them innocently."""
    value = attack.decode(errors="replace") if isinstance(attack, bytes) else attack
    if len(value) < 4:
        return False
    return value in text or json.dumps(value)[1:-1] in text
