"""api.fast_read: which reads the lane answers itself, and that its answers are the route's.

The lane exists only for speed, so what matters is (a) it takes exactly the plain reads and
leaves everything else to FastAPI, and (b) where it answers, status and body are the ones the
FastAPI route gives. A fake Runtime stands in for Vault (unit tier); the real lane runs in
every integration test that reads a secret.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from starlette.datastructures import Headers
from starlette.types import Receive, Scope, Send

from vault_mcp_sidecar.api.fast_read import FastReadMiddleware, _parse
from vault_mcp_sidecar.auth.principal import AuthError, AuthMode, ForbiddenError, Principal
from vault_mcp_sidecar.auth.trusted_proxies import IN_PROCESS_PEER
from vault_mcp_sidecar.scopes import Scope as AccessScope
from vault_mcp_sidecar.vault.errors import VaultUnavailable
from vault_mcp_sidecar.vault.kv import SecretNotFound

ALICE = Principal("alice", frozenset({AccessScope.READ}), AuthMode.API_KEY, "key:abc")


def http_scope(path: str, query: bytes = b"", client: str = "127.0.0.1") -> dict[str, Any]:
    return {
        "type": "http",
        "method": "GET",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "client": (client, 1234),
        "headers": [],
    }


@pytest.mark.parametrize(
    ("path", "query", "expected"),
    [
        ("/secrets/app/db", b"", ("app/db", None)),
        ("/secrets/app/db", b"version=3", ("app/db", 3)),
    ],
)
def test_plain_reads_are_taken(path: str, query: bytes, expected: tuple[str, int | None]) -> None:
    assert _parse(http_scope(path, query)) == expected


@pytest.mark.parametrize(
    ("path", "query"),
    [
        ("/secrets/app/db", b"version=0"),  # FastAPI's 422, with its field detail
        ("/secrets/app/db", b"version=x"),
        ("/secrets/app/db", b"version=1&extra=2"),
        ("/secrets/../db", b""),  # FastAPI's route gives the path error
        ("/secrets/", b""),
        ("/secrets", b"prefix=a/"),  # list, not read
        ("/whoami", b""),
    ],
)
def test_everything_else_goes_on_to_fastapi(path: str, query: bytes) -> None:
    assert _parse(http_scope(path, query)) is None


def test_percent_encoded_and_replayed_requests_go_on_to_fastapi() -> None:
    encoded = http_scope("/secrets/app/db")
    encoded["raw_path"] = b"/secrets/app%2Fdb"
    assert _parse(encoded) is None
    assert _parse(http_scope("/secrets/app/db", client=IN_PROCESS_PEER)) is None


class FakeKv:
    def __init__(self, data: dict[str, dict[str, Any]]) -> None:
        self.data = data

    async def read(self, token: str, subject: str, path: str, version: int | None) -> Any:
        if path not in self.data:
            raise SecretNotFound
        return {"data": self.data[path], "version": version or 1}


class FakeRuntime:
    """Authenticates per a header, reads from a dict; raises what the real one would."""

    def __init__(self, data: dict[str, dict[str, Any]], outage: bool = False) -> None:
        self.kv = FakeKv(data)
        self.outage = outage
        self.read_cache = None

    async def authenticate(self, headers: Headers) -> Principal:
        if headers.get("x-api-key") != "good":
            raise AuthError("invalid API key")
        return ALICE

    def admit(self, principal: Principal, scope: AccessScope) -> None:
        if not principal.allows(scope):
            raise ForbiddenError("scope not granted")

    async def token_for(self, principal: Principal) -> str:
        if self.outage:
            raise VaultUnavailable("down")
        return "child-token"


async def not_reached(scope: Scope, receive: Receive, send: Send) -> None:
    raise AssertionError(f"FastAPI reached for {scope['path']}")


def lane(outage: bool = False) -> httpx.AsyncClient:
    runtime = FakeRuntime({"app/db": {"pw": "x"}}, outage)
    app = FastReadMiddleware(not_reached, runtime)  # type: ignore[arg-type]
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")


async def test_the_lane_answers_a_read_without_fastapi() -> None:
    async with lane() as client:
        response = await client.get("/secrets/app/db", headers={"X-API-Key": "good"})
    assert response.status_code == 200
    assert response.json() == {"path": "app/db", "data": {"pw": "x"}, "version": 1}


@pytest.mark.parametrize(
    ("headers", "path", "status"),
    [
        ({"X-API-Key": "bad"}, "/secrets/app/db", 401),
        ({"X-API-Key": "good"}, "/secrets/missing", 404),
    ],
)
async def test_errors_are_the_routes_errors(
    headers: dict[str, str], path: str, status: int
) -> None:
    async with lane() as client:
        response = await client.get(path, headers=headers)
    assert response.status_code == status
    assert "detail" in response.json()


async def test_vault_down_is_503_with_retry_after() -> None:
    async with lane(outage=True) as client:
        response = await client.get("/secrets/app/db", headers={"X-API-Key": "good"})
    assert response.status_code == 503
    assert int(response.headers["Retry-After"]) >= 1
