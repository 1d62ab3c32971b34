"""mTLS identity headers are believed only from `MTLS_TRUSTED_PROXIES`.

The test client talks to the sidecar directly from 127.0.0.1. With the proxies set to a
network we are not in, forged `X-SSL-Client-S-DN` / XFCC headers must authenticate nobody —
over REST or MCP. With the default (loopback trusted) the test client plays the proxy, and the
DN / XFCC parsing is exercised with the forms real proxies send.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest

from devkit.openbao import OpenBao
from devkit.sidecar import SidecarProcess
from tests.integration.conftest import provision, sidecar_env
from tests.integration.mcp_helpers import IGNORE_DEPRECATION, connect_status, json_of, mcp_session
from tests.integration.vault_support import KEY_OF

pytestmark = pytest.mark.filterwarnings(IGNORE_DEPRECATION)

XFCC = "x-forwarded-client-cert"
XFCC_ALICE = (
    "By=spiffe://cluster.local/ns/x/sa/sidecar;URI=spiffe://cluster.local/ns/team-a/sa/alice"
)

DN_ALICE = {"X-SSL-Client-S-DN": "CN=alice", "X-SSL-Client-Verify": "SUCCESS"}
ALICE_KEY = KEY_OF["alice"]
BOB_KEY = KEY_OF["bob"]
K8S_AGENT = "team-a.alice"


@pytest.fixture(scope="module")
def untrusting(openbao: OpenBao) -> Iterator[SidecarProcess]:
    """Trusts only 10.255.255.0/24, so this test process (127.0.0.1) is not a proxy."""
    env = sidecar_env(openbao, AUTH_MTLS_ENABLED="true", MTLS_TRUSTED_PROXIES="10.255.255.0/24")
    with SidecarProcess(env) as process:
        yield process


@pytest.fixture(scope="module")
def trusting(openbao: OpenBao) -> Iterator[SidecarProcess]:
    """Default MTLS_TRUSTED_PROXIES (loopback); child tokens on, so agent policies matter."""
    provision(openbao, (K8S_AGENT,))
    env = sidecar_env(openbao, AUTH_MTLS_ENABLED="true", CHILD_TOKEN_ENABLED="true")
    with SidecarProcess(env) as process:
        yield process


def assert_401(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    assert isinstance(response.json()["detail"], str)


# -- untrusted peer ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param(DN_ALICE, id="dn"),
        pytest.param({XFCC: XFCC_ALICE}, id="xfcc"),
        pytest.param(DN_ALICE | {XFCC: XFCC_ALICE}, id="dn+xfcc"),
        pytest.param(
            DN_ALICE | {"X-Forwarded-For": "10.255.255.7", "X-Real-IP": "10.255.255.7"},
            id="dn+spoofed-forwarded-for",
        ),
    ],
)
def test_untrusted_peer_identity_headers_are_ignored(
    untrusting: SidecarProcess, headers: dict[str, str]
) -> None:
    assert_401(httpx.get(f"{untrusting.url}/whoami", headers=headers))
    # alice's real secret (written with her API key) is not readable with a forged identity,
    # neither through FastAPI's route nor the fast read lane in front of it.
    url = f"{untrusting.url}/secrets/forged/{uuid.uuid4().hex}"
    put = httpx.put(url, headers={"X-API-Key": ALICE_KEY}, json={"data": {"x": "y"}})
    assert put.status_code == 200, put.text
    assert_401(httpx.get(url, headers=headers))
    assert_401(httpx.get(url, headers=headers, params={"version": "1"}))
    assert_401(httpx.put(url, headers=headers, json={"data": {"x": "forged"}}))
    assert_401(httpx.delete(url, headers=headers))
    assert httpx.get(url, headers={"X-API-Key": ALICE_KEY}).json()["data"] == {"x": "y"}


def test_untrusted_peer_other_credentials_still_work(untrusting: SidecarProcess) -> None:
    """Stripping identity headers does not break API keys; nor can they add an identity."""
    response = httpx.get(f"{untrusting.url}/whoami", headers={"X-API-Key": BOB_KEY} | DN_ALICE)
    assert response.status_code == 200, response.text
    assert response.json()["subject"] == "bob"
    assert response.json()["auth_mode"] == "api_key"


async def test_untrusted_peer_cannot_authenticate_mcp(untrusting: SidecarProcess) -> None:
    assert await connect_status(untrusting.url, DN_ALICE) == 401
    assert await connect_status(untrusting.url, {XFCC: XFCC_ALICE}) == 401


# -- trusted peer (loopback, the default) -----------------------------------------------------


@pytest.mark.parametrize(
    "dn",
    [
        "CN=alice,O=Example",
        "CN=alice",
        "O=Example,CN=alice",
        "/C=US/O=Example/CN=alice",
        "CN=alice,O=Example\\, Inc.",
        'CN="alice",O=Example',
    ],
)
def test_trusted_dn_forms(trusting: SidecarProcess, dn: str) -> None:
    headers = {"X-SSL-Client-S-DN": dn, "X-SSL-Client-Verify": "SUCCESS"}
    response = httpx.get(f"{trusting.url}/whoami", headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["subject"] == "alice"
    assert response.json()["auth_mode"] == "mtls"


@pytest.mark.parametrize("verify", ["NONE", "FAILED:certificate has expired", "success", ""])
def test_trusted_dn_without_verify_success_is_401(trusting: SidecarProcess, verify: str) -> None:
    headers = {"X-SSL-Client-S-DN": "CN=alice,O=Example", "X-SSL-Client-Verify": verify}
    assert_401(httpx.get(f"{trusting.url}/whoami", headers=headers))


def test_trusted_dn_without_verify_header_is_401(trusting: SidecarProcess) -> None:
    headers = {"X-SSL-Client-S-DN": "CN=alice,O=Example"}
    assert_401(httpx.get(f"{trusting.url}/whoami", headers=headers))


@pytest.mark.parametrize(
    "dn",
    [
        "CN=alice,CN=bob",
        "/CN=alice/CN=bob",
        "CN=alice+CN=bob",
        "O=Example",
        "CN=",
        "CN=../bob",
        "garbage",
        'CN=alice,O="unterminated',
    ],
)
def test_trusted_bad_dn_is_401(trusting: SidecarProcess, dn: str) -> None:
    headers = {"X-SSL-Client-S-DN": dn, "X-SSL-Client-Verify": "SUCCESS"}
    assert_401(httpx.get(f"{trusting.url}/whoami", headers=headers))


def test_trusted_xfcc_spiffe_subject_and_round_trip(trusting: SidecarProcess) -> None:
    headers = {XFCC: XFCC_ALICE}
    whoami = httpx.get(f"{trusting.url}/whoami", headers=headers)
    assert whoami.status_code == 200, whoami.text
    assert whoami.json()["subject"] == K8S_AGENT
    assert whoami.json()["identity"] == "spiffe://cluster.local/ns/team-a/sa/alice"
    path = f"xfcc/{uuid.uuid4().hex}"
    put = httpx.put(f"{trusting.url}/secrets/{path}", headers=headers, json={"data": {"a": "1"}})
    assert put.status_code == 200, put.text
    got = httpx.get(f"{trusting.url}/secrets/{path}", headers=headers)
    assert got.status_code == 200, got.text
    assert got.json()["data"] == {"a": "1"}
    # Plain "alice" (a different agent) does not see team-a.alice's data.
    other = httpx.get(f"{trusting.url}/secrets/{path}", headers=DN_ALICE)
    assert other.status_code == 404


def test_trusted_xfcc_last_element_wins(trusting: SidecarProcess) -> None:
    """Each proxy appends an element; only the nearest proxy's (the last) is believed."""
    header = (
        "By=spiffe://cluster.local/ns/x/sa/edge;URI=spiffe://cluster.local/ns/team-b/sa/bob,"
        + XFCC_ALICE
    )
    response = httpx.get(f"{trusting.url}/whoami", headers={XFCC: header})
    assert response.status_code == 200, response.text
    assert response.json()["subject"] == K8S_AGENT


@pytest.mark.parametrize(
    "xfcc",
    [
        "By=spiffe://cluster.local/ns/x/sa/sidecar;Hash=abc",
        "URI=https://example.com/alice",
        "URI=spiffe://cluster.local/ns/Team-A/sa/alice",
        "URI=spiffe://cluster.local/ns/team-a/sa/alice/extra",
        "URI=spiffe://cluster.local/ns/../sa/alice",
        "garbage",
        "",
    ],
)
def test_trusted_bad_xfcc_is_401(trusting: SidecarProcess, xfcc: str) -> None:
    assert_401(httpx.get(f"{trusting.url}/whoami", headers={XFCC: xfcc}))


async def test_trusted_mcp_with_identity_headers(trusting: SidecarProcess) -> None:
    """The positive counterpart of the untrusted MCP test: same headers, trusted peer."""
    assert await connect_status(trusting.url, {XFCC: XFCC_ALICE}) is None
    path = f"mcp-xfcc/{uuid.uuid4().hex}"
    async with mcp_session(trusting.url, {XFCC: XFCC_ALICE}) as session:
        whoami = json_of(await session.call_tool("whoami", {}))
        json_of(await session.call_tool("write_secret", {"path": path, "data": {"m": "1"}}))
        read = json_of(await session.call_tool("read_secret", {"path": path}))
    assert whoami["subject"] == K8S_AGENT
    assert read["data"] == {"m": "1"}
