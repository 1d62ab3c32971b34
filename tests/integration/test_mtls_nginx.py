"""mTLS through a real nginx: nginx verifies the client certificate and tells the sidecar who
the caller is in `X-SSL-Client-S-DN` / `X-SSL-Client-Verify` (the seed's deployment).

nginx connects to the sidecar from 127.0.0.1, which the default `MTLS_TRUSTED_PROXIES` trusts.
"""

from __future__ import annotations

import ssl
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from devkit.certs import Pki, make_pki
from devkit.nginx import Nginx, nginx_available
from devkit.openbao import OpenBao
from devkit.sidecar import SidecarProcess
from tests.integration.conftest import sidecar_env
from tests.integration.mcp_helpers import IGNORE_DEPRECATION, json_of, mcp_session

pytestmark = [
    pytest.mark.nginx,
    pytest.mark.skipif(
        not nginx_available(), reason="nginx not installed (Debian package nginx-light)"
    ),
    pytest.mark.filterwarnings(IGNORE_DEPRECATION),
]

CertPair = tuple[Path, Path]


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def alice_cert(pki: Pki) -> CertPair:
    return pki.client("alice", cn="alice", org="Example")


@pytest.fixture(scope="module")
def bob_cert(pki: Pki) -> CertPair:
    return pki.client("bob", cn="bob", org="Example")


@pytest.fixture(scope="module")
def proxy(openbao: OpenBao, pki: Pki) -> Iterator[Nginx]:
    env = sidecar_env(openbao, AUTH_MTLS_ENABLED="true")
    with SidecarProcess(env) as sidecar, Nginx(sidecar.port, pki, verify="on") as nginx:
        yield nginx


def tls(pki: Pki, cert: CertPair | None) -> ssl.SSLContext:
    """Trust the test CA and present `cert` (the non-deprecated form of verify=/cert=)."""
    context = ssl.create_default_context(cafile=str(pki.ca_cert))
    if cert is not None:
        context.load_cert_chain(str(cert[0]), str(cert[1]))
    return context


def client(proxy: Nginx, pki: Pki, cert: CertPair | None) -> httpx.Client:
    return httpx.Client(base_url=proxy.url, verify=tls(pki, cert), timeout=10)


def test_alice_certificate_is_alice(proxy: Nginx, pki: Pki, alice_cert: CertPair) -> None:
    with client(proxy, pki, alice_cert) as alice:
        response = alice.get("/whoami")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["subject"] == "alice"
    assert body["auth_mode"] == "mtls"
    assert body["identity"] == "dn:CN=alice,O=Example"


def test_alice_secret_round_trip(proxy: Nginx, pki: Pki, alice_cert: CertPair) -> None:
    path = f"mtls/{uuid.uuid4().hex}"
    with client(proxy, pki, alice_cert) as alice:
        put = alice.put(f"/secrets/{path}", json={"data": {"pin": "1234"}})
        assert put.status_code == 200, put.text
        got = alice.get(f"/secrets/{path}")
        listed = alice.get("/secrets", params={"prefix": "mtls/"})
    assert got.status_code == 200, got.text
    assert got.json()["data"] == {"pin": "1234"}
    assert path.removeprefix("mtls/") in listed.json()["keys"]


def test_bob_cannot_see_alices_data(
    proxy: Nginx, pki: Pki, alice_cert: CertPair, bob_cert: CertPair
) -> None:
    folder = f"private-{uuid.uuid4().hex[:10]}"
    with client(proxy, pki, alice_cert) as alice:
        put = alice.put(f"/secrets/{folder}/note", json={"data": {"owner": "alice"}})
        assert put.status_code == 200, put.text
    with client(proxy, pki, bob_cert) as bob:
        assert bob.get("/whoami").json()["subject"] == "bob"
        assert bob.get(f"/secrets/{folder}/note").status_code == 404
        listed = bob.get("/secrets", params={"prefix": f"{folder}/"})
        assert listed.status_code == 200
        assert listed.json()["keys"] == []
        # Bob's delete of "the same" path acts on his own (empty) subtree, never on alice's.
        assert bob.delete(f"/secrets/{folder}/note").status_code in (200, 404)
    with client(proxy, pki, alice_cert) as alice:
        still = alice.get(f"/secrets/{folder}/note")
    assert still.status_code == 200
    assert still.json()["data"] == {"owner": "alice"}


def test_untrusted_ca_is_rejected_by_nginx(proxy: Nginx, pki: Pki) -> None:
    rogue = pki.untrusted_client("alice", cn="alice", org="Example")
    with client(proxy, pki, rogue) as mallory:
        response = mallory.get("/whoami")
    assert response.status_code == 400


def test_no_client_certificate_is_rejected_by_nginx(proxy: Nginx, pki: Pki) -> None:
    with client(proxy, pki, None) as anonymous:
        response = anonymous.get("/whoami")
    assert response.status_code == 400


@pytest.mark.parametrize(
    "cn",
    [
        pytest.param("alice,O=Example", id="comma-injection"),
        pytest.param("bob,CN=alice", id="second-cn-injection"),
        pytest.param("../alice", id="traversal"),
        pytest.param("alice bob", id="space"),
    ],
)
def test_hostile_certificate_cn_is_refused(proxy: Nginx, pki: Pki, cn: str) -> None:
    """nginx escapes special characters in the DN; the sidecar must not be fooled into
    reading an escaped `,` as a separator, nor accept a CN that is no valid agent id."""
    cert = pki.client(f"hostile-{uuid.uuid4().hex[:8]}", cn=cn, org="Example")
    with client(proxy, pki, cert) as caller:
        response = caller.get("/whoami")
    assert response.status_code == 401, response.text
    assert isinstance(response.json()["detail"], str)


def test_injected_identity_headers_are_overwritten(
    proxy: Nginx, pki: Pki, alice_cert: CertPair
) -> None:
    forged = {
        "X-SSL-Client-S-DN": "CN=bob,O=Example",
        "X-SSL-Client-Verify": "SUCCESS",
        # The sidecar prefers XFCC over the DN when it sees one: nginx must drop it.
        "X-Forwarded-Client-Cert": "URI=spiffe://cluster.local/ns/team-a/sa/bob",
    }
    with client(proxy, pki, alice_cert) as alice:
        response = alice.get("/whoami", headers=forged)
    assert response.status_code == 200, response.text
    assert response.json()["subject"] == "alice"
    assert response.json()["identity"] == "dn:CN=alice,O=Example"


async def test_mcp_tool_call_through_nginx_is_alice(
    proxy: Nginx, pki: Pki, alice_cert: CertPair
) -> None:
    """The certificate identity survives fastapi-mcp's in-process replay of the tool call,
    and identity headers the client adds are still overwritten by nginx."""

    def with_cert(
        headers: dict[str, str] | None = None,
        timeout: httpx.Timeout | None = None,
        auth: httpx.Auth | None = None,
    ) -> httpx.AsyncClient:
        context = tls(pki, alice_cert)
        return httpx.AsyncClient(headers=headers, timeout=timeout, auth=auth, verify=context)

    forged = {"X-SSL-Client-S-DN": "CN=bob", "X-SSL-Client-Verify": "SUCCESS"}
    path = f"mcp-mtls/{uuid.uuid4().hex}"
    async with mcp_session(proxy.url, forged, with_cert) as session:
        whoami = json_of(await session.call_tool("whoami", {}))
        json_of(await session.call_tool("write_secret", {"path": path, "data": {"via": "mcp"}}))
    assert whoami["subject"] == "alice"
    with client(proxy, pki, alice_cert) as alice:
        assert alice.get(f"/secrets/{path}").json()["data"] == {"via": "mcp"}
