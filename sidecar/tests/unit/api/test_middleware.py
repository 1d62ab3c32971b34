"""api.middleware.RequestContextMiddleware: request ids and the request body size limit."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request

from vault_mcp_sidecar.api.middleware import RequestContextMiddleware
from vault_mcp_sidecar.logs import request_id_var

LIMIT = 1024
GENERATED = re.compile(r"[0-9a-f]{32}")


def tiny_app() -> tuple[FastAPI, list[str]]:
    app = FastAPI()
    calls: list[str] = []

    @app.get("/ping")
    async def ping() -> dict[str, str | None]:
        calls.append("ping")
        return {"request_id": request_id_var.get()}

    @app.post("/echo")
    async def echo(body: dict[str, Any]) -> dict[str, int]:
        calls.append("echo")
        return {"keys": len(body)}

    @app.post("/raw")
    async def raw(request: Request) -> dict[str, int]:
        size = len(await request.body())
        calls.append("raw")  # only once the whole body was read
        return {"bytes": size}

    @app.get("/mcp/probe")
    async def mcp_probe(request: Request) -> dict[str, list[str]]:
        return {"ids": [v for k, v in request.headers.items() if k == "x-request-id"]}

    app.add_middleware(RequestContextMiddleware, max_body_bytes=LIMIT)
    return app, calls


@pytest.fixture
def app_and_calls() -> tuple[FastAPI, list[str]]:
    return tiny_app()


@pytest.fixture
async def client(app_and_calls: tuple[FastAPI, list[str]]) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app_and_calls[0])
    async with httpx.AsyncClient(transport=transport, base_url="http://sidecar") as c:
        yield c


async def chunks(total: int, size: int = 256) -> AsyncIterator[bytes]:
    sent = 0
    while sent < total:
        part = b"x" * min(size, total - sent)
        sent += len(part)
        yield part


# -- Request ids ----------------------------------------------------------------------------


async def test_request_id_is_generated(client: httpx.AsyncClient) -> None:
    response = await client.get("/ping")
    request_id = response.headers["x-request-id"]
    assert GENERATED.fullmatch(request_id)
    assert response.json() == {"request_id": request_id}


async def test_generated_ids_differ(client: httpx.AsyncClient) -> None:
    first = (await client.get("/ping")).headers["x-request-id"]
    second = (await client.get("/ping")).headers["x-request-id"]
    assert first != second


@pytest.mark.parametrize("request_id", ["abc-123", "A.b_C-9", "x" * 64])
async def test_valid_client_request_id_is_propagated(
    client: httpx.AsyncClient, request_id: str
) -> None:
    response = await client.get("/ping", headers={"X-Request-Id": request_id})
    assert response.headers["x-request-id"] == request_id
    assert response.json() == {"request_id": request_id}


@pytest.mark.parametrize(
    "request_id", ["", "has space", "x" * 65, "a/b", "a\tb", "<script>", "id;drop", "caf\u00e9"]
)
async def test_invalid_client_request_id_is_replaced(
    client: httpx.AsyncClient, request_id: str
) -> None:
    response = await client.get("/ping", headers={b"x-request-id": request_id.encode()})
    assert GENERATED.fullmatch(response.headers["x-request-id"])
    assert response.headers.get_list("x-request-id") == [response.headers["x-request-id"]]


async def test_request_id_context_is_reset_after_the_request(client: httpx.AsyncClient) -> None:
    await client.get("/ping", headers={"X-Request-Id": "abc-123"})
    assert request_id_var.get() is None


@pytest.mark.parametrize("sent", [None, "abc-123", "not valid!"])
async def test_mcp_requests_carry_exactly_the_request_id(
    client: httpx.AsyncClient, sent: str | None
) -> None:
    headers = {"X-Request-Id": sent} if sent is not None else {}
    response = await client.get("/mcp/probe", headers=headers)
    request_id = response.headers["x-request-id"]
    if sent == "abc-123":
        assert request_id == sent
    # fastapi-mcp forwards the first x-request-id it sees into the replayed tool call: it must
    # be the one this request is logged under.
    assert response.json() == {"ids": [request_id]}


# -- Body size limit ------------------------------------------------------------------------


async def test_body_within_the_limit(
    client: httpx.AsyncClient, app_and_calls: tuple[FastAPI, list[str]]
) -> None:
    response = await client.post("/raw", content=b"x" * LIMIT)
    assert response.status_code == 200
    assert response.json() == {"bytes": LIMIT}
    assert app_and_calls[1] == ["raw"]


async def test_declared_content_length_over_the_limit(
    client: httpx.AsyncClient, app_and_calls: tuple[FastAPI, list[str]]
) -> None:
    response = await client.post("/raw", content=b"x" * (LIMIT + 1))
    assert response.status_code == 413
    assert response.json() == {"detail": "request body too large"}
    assert GENERATED.fullmatch(response.headers["x-request-id"])
    assert app_and_calls[1] == []  # refused before the app ran


@pytest.mark.parametrize("path", ["/raw", "/echo"])
async def test_streamed_body_over_the_limit(
    client: httpx.AsyncClient, app_and_calls: tuple[FastAPI, list[str]], path: str
) -> None:
    response = await client.post(
        path, content=chunks(4 * LIMIT), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json() == {"detail": "request body too large"}
    assert response.headers.get_list("x-request-id") == [response.headers["x-request-id"]]
    assert app_and_calls[1] == []  # no handler ran to completion


async def test_streamed_body_within_the_limit(client: httpx.AsyncClient) -> None:
    response = await client.post("/raw", content=chunks(LIMIT))
    assert response.status_code == 200
    assert response.json() == {"bytes": LIMIT}


async def test_lying_content_length_is_caught_while_streaming(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/raw", content=chunks(4 * LIMIT), headers={"content-length": "10"}
    )
    assert response.status_code == 413


async def test_non_http_scopes_pass_through() -> None:
    seen: list[str] = []

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["type"])

    async def receive() -> dict[str, Any]:
        return {"type": "lifespan.startup"}

    async def send(message: Any) -> None:
        return None

    middleware = RequestContextMiddleware(inner, max_body_bytes=LIMIT)
    await middleware({"type": "lifespan"}, receive, send)
    assert seen == ["lifespan"]
