"""auth.mtls: identity headers (already filtered by the trusted-proxy middleware) -> Principal."""

from __future__ import annotations

import pytest
from starlette.datastructures import Headers

from vault_mcp_sidecar.auth.mtls import MAX_HEADER_BYTES, MtlsAuthenticator, MtlsConfig
from vault_mcp_sidecar.auth.principal import AuthError, AuthMode
from vault_mcp_sidecar.scopes import Scope

SCOPES = frozenset({Scope.READ})
ALICE_URI = "spiffe://cluster.local/ns/team-a/sa/alice"


def make(xfcc_header: str = "x-forwarded-client-cert") -> MtlsAuthenticator:
    return MtlsAuthenticator(
        MtlsConfig(
            identity_header="x-ssl-client-s-dn",
            verify_header="x-ssl-client-verify",
            cn_prefix="CN=",
            xfcc_header=xfcc_header,
            default_scopes=SCOPES,
        )
    )


def test_dn_with_verified_certificate() -> None:
    headers = Headers(
        headers={"x-ssl-client-s-dn": "CN=agent_mtls,O=x", "x-ssl-client-verify": "SUCCESS"}
    )
    principal = make().authenticate(headers)
    assert principal.subject == "agent_mtls"
    assert principal.mode is AuthMode.MTLS
    assert principal.scopes == SCOPES
    assert principal.identity == "dn:CN=agent_mtls,O=x"


@pytest.mark.parametrize("verify", [None, "NONE", "FAILED:unable to verify", "success", ""])
def test_dn_needs_the_proxy_to_have_verified(verify: str | None) -> None:
    raw = {"x-ssl-client-s-dn": "CN=agent_mtls"}
    if verify is not None:
        raw["x-ssl-client-verify"] = verify
    with pytest.raises(AuthError, match="not verified"):
        make().authenticate(Headers(headers=raw))


@pytest.mark.parametrize(
    "dn",
    ["O=x", "CN=a,CN=b", "CN=../bob", "CN=bob smith", 'CN="unterminated', "CN=" + "a" * 129],
)
def test_unusable_dn(dn: str) -> None:
    headers = Headers(headers={"x-ssl-client-s-dn": dn, "x-ssl-client-verify": "SUCCESS"})
    with pytest.raises(AuthError, match="invalid client identity"):
        make().authenticate(headers)


def test_xfcc_is_used_before_the_dn() -> None:
    headers = Headers(
        headers={
            "x-forwarded-client-cert": f"Hash=ab;URI={ALICE_URI}",
            "x-ssl-client-s-dn": "CN=mallory",
            "x-ssl-client-verify": "SUCCESS",
        }
    )
    principal = make().authenticate(headers)
    assert principal.subject == "team-a.alice"
    assert principal.identity == ALICE_URI


@pytest.mark.parametrize(
    "xfcc",
    [
        "Hash=ab",
        "URI=spiffe://cluster.local/workload/alice",
        "URI=https://alice.example",
        f"URI={ALICE_URI}," + "x" * MAX_HEADER_BYTES,
    ],
)
def test_unusable_xfcc(xfcc: str) -> None:
    with pytest.raises(AuthError, match="invalid client identity"):
        make().authenticate(Headers(headers={"x-forwarded-client-cert": xfcc}))


def test_oversized_dn() -> None:
    dn = "CN=alice,O=" + "x" * MAX_HEADER_BYTES
    headers = Headers(headers={"x-ssl-client-s-dn": dn, "x-ssl-client-verify": "SUCCESS"})
    with pytest.raises(AuthError, match="too large"):
        make().authenticate(headers)


def test_present() -> None:
    auth = make()
    assert auth.present(Headers(headers={"x-ssl-client-s-dn": "CN=a"}))
    assert auth.present(Headers(headers={"x-forwarded-client-cert": "URI=x"}))
    assert not auth.present(Headers(headers={"x-ssl-client-verify": "SUCCESS"}))
    assert not make(xfcc_header="").present(Headers(headers={"x-forwarded-client-cert": "URI=x"}))
