"""auth.trusted_proxies: identity headers are believed only from MTLS_TRUSTED_PROXIES."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest
from starlette.types import Message, Receive, Scope, Send

from vault_mcp_sidecar.auth.trusted_proxies import (
    IN_PROCESS_PEER,
    TrustedProxyMiddleware,
    is_trusted,
)
from vault_mcp_sidecar.config import Network

LOOPBACK: tuple[Network, ...] = (
    ipaddress.ip_network("127.0.0.1/32"),
    ipaddress.ip_network("::1/128"),
)
MESH: tuple[Network, ...] = (ipaddress.ip_network("10.0.0.0/8"),)
IDENTITY = ["X-SSL-Client-S-DN", "x-ssl-client-verify", "x-forwarded-client-cert", ""]


@pytest.mark.parametrize(
    ("host", "networks", "trusted"),
    [
        ("127.0.0.1", LOOPBACK, True),
        ("::1", LOOPBACK, True),
        ("127.0.0.2", LOOPBACK, False),
        ("10.1.2.3", LOOPBACK, False),
        ("10.1.2.3", MESH, True),
        ("11.0.0.1", MESH, False),
        ("::ffff:127.0.0.1", LOOPBACK, True),  # an IPv4 client seen on a dual-stack socket
        ("::ffff:10.0.0.1", MESH, True),
        ("::ffff:11.0.0.1", MESH, False),
        ("fe80::1", LOOPBACK, False),
        (None, LOOPBACK, False),
        ("", LOOPBACK, False),
        ("localhost", LOOPBACK, False),
        ("testclient", LOOPBACK, False),
        ("127.0.0.1", (), False),
    ],
)
def test_is_trusted(host: str | None, networks: tuple[Network, ...], trusted: bool) -> None:
    assert is_trusted(host, networks) is trusted


class Capture:
    """A tiny ASGI app that records the scope it was called with."""

    def __init__(self) -> None:
        self.scope: Scope | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.scope = scope


async def run(
    client: tuple[str, int] | None, scope_type: str = "http"
) -> list[tuple[bytes, bytes]]:
    app = Capture()
    middleware = TrustedProxyMiddleware(app, networks=LOOPBACK, headers=IDENTITY)
    scope: dict[str, Any] = {
        "type": scope_type,
        "path": "/whoami",
        "headers": [
            (b"x-ssl-client-s-dn", b"CN=mallory"),
            (b"x-ssl-client-verify", b"SUCCESS"),
            (b"x-forwarded-client-cert", b"URI=spiffe://cluster.local/ns/a/sa/b"),
            (b"x-api-key", b"k"),
            (b"accept", b"*/*"),
        ],
    }
    if client is not None:
        scope["client"] = client

    async def receive() -> Message:
        return {"type": "http.request", "body": b""}

    async def send(message: Message) -> None:
        return None

    await middleware(scope, receive, send)
    assert app.scope is not None
    headers: list[tuple[bytes, bytes]] = app.scope["headers"]
    return headers


IDENTITY_NAMES = {b"x-ssl-client-s-dn", b"x-ssl-client-verify", b"x-forwarded-client-cert"}


@pytest.mark.parametrize(
    "client", [("203.0.113.7", 5000), ("127.0.0.2", 1), ("testclient", 1), None]
)
async def test_untrusted_peer_loses_identity_headers(client: tuple[str, int] | None) -> None:
    headers = await run(client)
    assert {name for name, _ in headers} == {b"x-api-key", b"accept"}


@pytest.mark.parametrize("client", [("127.0.0.1", 5000), ("::1", 5000), (IN_PROCESS_PEER, 0)])
async def test_trusted_peer_keeps_identity_headers(client: tuple[str, int]) -> None:
    headers = await run(client)
    assert {name for name, _ in headers} >= IDENTITY_NAMES
    assert len(headers) == 5


async def test_other_scope_types_pass_through_unchanged() -> None:
    headers = await run(("203.0.113.7", 1), scope_type="lifespan")
    assert {name for name, _ in headers} >= IDENTITY_NAMES
