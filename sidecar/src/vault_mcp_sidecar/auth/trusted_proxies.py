"""Identity headers are believed only from trusted proxies.

An ASGI middleware removes the mTLS identity headers from any request whose peer address is
not in `MTLS_TRUSTED_PROXIES`, before routing — so no later code (REST route or MCP tool
replay) can be fooled by a caller who simply sets `X-SSL-Client-S-DN` itself.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from starlette.types import ASGIApp, Receive, Scope, Send

from vault_mcp_sidecar.config import Network

# fastapi-mcp replays tool calls in-process; its transport reports this peer. Such a request
# carries only headers the outer request already had after this middleware cleaned them.
IN_PROCESS_PEER = "in-process-mcp"


def is_trusted(host: str | None, networks: Iterable[Network]) -> bool:
    if host is None:
        return False
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    # A dual-stack listener (HOST=::) reports IPv4 peers as ::ffff:a.b.c.d; match them
    # against the IPv4 CIDRs they really are in.
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in network for network in networks)


class TrustedProxyMiddleware:
    def __init__(self, app: ASGIApp, networks: tuple[Network, ...], headers: Iterable[str]):
        self.app = app
        self.networks = networks
        self.strip = {h.lower().encode("latin-1") for h in headers if h}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Most requests carry no identity header at all: then there is nothing to judge, and
        # the peer address need not be parsed (measured ~3% of a read's CPU).
        if scope["type"] == "http" and any(name in self.strip for name, _ in scope["headers"]):
            host = scope["client"][0] if scope.get("client") else None
            if host != IN_PROCESS_PEER and not is_trusted(host, self.networks):
                scope = dict(scope)
                scope["headers"] = [
                    (name, value) for name, value in scope["headers"] if name not in self.strip
                ]
        await self.app(scope, receive, send)
