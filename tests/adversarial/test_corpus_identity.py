"""mTLS identity headers from a peer that is not a trusted proxy are no credential at all.

The sidecar here trusts identity headers only from 10.255.255.0/24; these tests connect from
127.0.0.1, so every DN, verify result or XFCC they send is forged. Whatever the spelling or the
company it keeps (forwarding headers claiming a trusted address, duplicates, odd casing), it
must authenticate nobody — on every route and on the MCP endpoint — nor be repeated back, nor
let anything reach Vault. `tests/integration/test_trusted_proxies.py` has the basic cases and
the trusted side; this is the wider corpus.
"""

from __future__ import annotations

import pytest

from devkit.openbao import OpenBao
from devkit.sidecar import SidecarProcess
from tests.adversarial.conftest import Audit, assert_refused
from tests.adversarial.wire import send
from tests.integration.mcp_helpers import IGNORE_DEPRECATION, connect_status
from tests.integration.vault_support import KEY_OF

pytestmark = pytest.mark.filterwarnings(IGNORE_DEPRECATION)

DN = ("X-SSL-Client-S-DN", "CN=alice,O=Example Corp")
VERIFIED = ("X-SSL-Client-Verify", "SUCCESS")
XFCC = (
    "X-Forwarded-Client-Cert",
    "By=spiffe://cluster.local/ns/x/sa/sidecar;URI=spiffe://cluster.local/ns/team-a/sa/alice",
)

FROM_TRUSTED = "10.255.255.7"  # inside MTLS_TRUSTED_PROXIES: what a forger would claim to be
BOB_KEY = KEY_OF["bob"]

FORGERIES: dict[str, list[tuple[str, str]]] = {
    "dn-verified": [DN, VERIFIED],
    "dn-alone": [DN],
    "xfcc": [XFCC],
    "dn-and-xfcc": [DN, VERIFIED, XFCC],
    "dn-upper-case-names": [(DN[0].upper(), DN[1]), (VERIFIED[0].upper(), VERIFIED[1])],
    "dn-lower-case-names": [(DN[0].lower(), DN[1]), (VERIFIED[0].lower(), VERIFIED[1])],
    "dn-slash-form": [("X-SSL-Client-S-DN", "/C=US/O=Example/CN=alice"), VERIFIED],
    "dn-twice": [DN, ("X-SSL-Client-S-DN", "CN=bob"), VERIFIED],
    "dn-verify-failed": [DN, ("X-SSL-Client-Verify", "FAILED:unknown ca")],
    "x-forwarded-for-trusted": [DN, VERIFIED, ("X-Forwarded-For", FROM_TRUSTED)],
    "x-real-ip-trusted": [DN, VERIFIED, ("X-Real-IP", FROM_TRUSTED)],
    "forwarded-for-trusted": [DN, VERIFIED, ("Forwarded", f"for={FROM_TRUSTED};proto=https")],
    "true-client-ip-trusted": [XFCC, ("True-Client-IP", FROM_TRUSTED)],
    "x-forwarded-for-chain": [XFCC, ("X-Forwarded-For", f"{FROM_TRUSTED}, 127.0.0.1")],
    "underscore-names": [("X_SSL_Client_S_DN", DN[1]), ("X_SSL_Client_Verify", "SUCCESS")],
    "xfcc-many-elements": [
        (XFCC[0], "URI=spiffe://cluster.local/ns/team-b/sa/bob," + XFCC[1]),
    ],
}
ROUTES: list[tuple[str, bytes, bytes]] = [
    ("GET", b"/whoami", b""),
    ("GET", b"/secrets/forged-target", b""),  # the fast read lane
    ("PUT", b"/secrets/forged-target", b'{"data": {"v": "forged"}}'),
    ("DELETE", b"/secrets/forged-target", b""),
    ("GET", b"/secrets?prefix=", b""),
    ("POST", b"/transit/encrypt", b'{"key": "k", "plaintext": "aGk="}'),
]


@pytest.mark.parametrize("forgery", sorted(FORGERIES))
async def test_forged_identity_is_401_and_never_reaches_vault(
    adv_bao: OpenBao, hs_sidecar: SidecarProcess, forgery: str
) -> None:
    headers = FORGERIES[forgery]
    audit = Audit.mark(adv_bao)
    for method, route, body in ROUTES:
        extra = [("Content-Type", "application/json")] if body else []
        reply = send(hs_sidecar.port, method, route, [*headers, *extra], body)
        content_type = reply.headers.get("content-type", "")
        assert_refused(reply.status, content_type, reply.text, 401)
        for _, value in headers:
            assert value not in reply.text
    assert await connect_status(hs_sidecar.url, dict(headers)) == 401
    audit.assert_nothing_reached_vault()


@pytest.mark.parametrize("forgery", sorted(FORGERIES))
def test_forged_identity_does_not_change_who_a_key_holder_is(
    hs_sidecar: SidecarProcess, forgery: str
) -> None:
    """Beside a real credential the forged headers are simply gone: bob stays bob."""
    headers = [("X-API-Key", BOB_KEY), *FORGERIES[forgery]]
    reply = send(hs_sidecar.port, "GET", b"/whoami", headers)
    assert reply.status == 200, reply.text
    assert (reply.json()["subject"], reply.json()["auth_mode"]) == ("bob", "api_key")
