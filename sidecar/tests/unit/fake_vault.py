"""A small HTTP server answering like OpenBao, for unit tests of what the sidecar sends it and
makes of its answers. The real OpenBao runs in tests/integration."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from devkit.ports import free_port


@dataclass
class FakeVault:
    """JSON with a fresh `request_id` on success, `{"errors": [...]}` otherwise, 204 with no
    body for deletes; any path containing `sealed` answers 503, `standby` 500 (no active node),
    `missing` 404. KV v2 reads
    return `data`. Remembers the X-Request-Id header of every call."""

    data: dict[str, Any] = field(default_factory=lambda: {"password": "hunter2"})
    seen_request_ids: list[str | None] = field(default_factory=list)
    issued: list[str] = field(default_factory=list)
    addr: str = ""

    async def handle(self, request: web.Request) -> web.Response:
        self.seen_request_ids.append(request.headers.get("X-Request-Id"))
        path = request.match_info["tail"]
        if "sealed" in path:
            return web.json_response({"errors": ["Vault is sealed"]}, status=503)
        if "standby" in path:  # raft electing a leader right after an unseal
            message = "local node not active but active cluster node not found"
            return web.json_response({"errors": [message]}, status=500)
        if "missing" in path:
            return web.json_response({"errors": []}, status=404)
        if request.method == "DELETE":
            return web.Response(status=204)
        request_id = f"vault-req-{len(self.issued) + 1}"
        self.issued.append(request_id)
        return web.json_response({"request_id": request_id, **self._answer(request, path)})

    def _answer(self, request: web.Request, path: str) -> dict[str, Any]:
        metadata = {"version": 1, "created_time": "2024-01-01T00:00:00Z", "destroyed": False}
        if path.startswith("auth/token/"):
            return {"auth": {"client_token": "s.child"}, "data": {"ttl": 0, "renewable": False}}
        if "/encrypt/" in path:
            return {"data": {"ciphertext": "vault:v1:Y2lwaGVy"}}
        if request.method == "GET" and "/data/" in path:
            return {"data": {"data": self.data, "metadata": metadata}}
        return {"data": metadata}


@asynccontextmanager
async def serving(fake: FakeVault | None = None) -> AsyncIterator[FakeVault]:
    """`fake` (or a new one) served on a free loopback port; `fake.addr` is its address."""
    fake = fake or FakeVault()
    app = web.Application()
    app.router.add_route("*", "/v1/{tail:.*}", fake.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    fake.addr = f"http://127.0.0.1:{port}"
    try:
        yield fake
    finally:
        await runner.cleanup()
