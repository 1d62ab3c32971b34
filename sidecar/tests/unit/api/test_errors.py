"""api.errors: exceptions -> DESIGN §5 status codes, and no secret value in any error body."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from starlette.types import Message

from vault_mcp_sidecar.api.errors import install_error_handlers
from vault_mcp_sidecar.api.models import WriteSecretRequest
from vault_mcp_sidecar.app import create_app
from vault_mcp_sidecar.auth.principal import AuthError, ForbiddenError
from vault_mcp_sidecar.config import load_settings
from vault_mcp_sidecar.naming import InvalidName
from vault_mcp_sidecar.paths import PathError
from vault_mcp_sidecar.ratelimit import RateLimited
from vault_mcp_sidecar.vault.errors import VaultError, VaultUnavailable
from vault_mcp_sidecar.vault.kv import CasMismatch, SecretNotFound
from vault_mcp_sidecar.vault.transit import TransitInputError, TransitKeyNotFound

MARK = "XYZZY"  # stands for a secret value or Vault-internal detail; must never come back
API_KEY = "unit-api-key-0123456789abcdef"

RAISED: dict[str, Exception] = {
    "vault-unavailable": VaultUnavailable(f"sealed {MARK}"),
    "vault-403": VaultError(403, [f"permission denied on secret/data/{MARK}"]),
    "vault-404": VaultError(404, [MARK]),
    "vault-429": VaultError(429, [MARK]),
    "vault-400": VaultError(400, [f"bad value {MARK}"]),
    "vault-500": VaultError(500, [MARK]),
    "vault-418": VaultError(418),
    "auth": AuthError("invalid API key"),
    "forbidden": ForbiddenError("scope 'write' not granted"),
    "path": PathError("path has an empty segment"),
    "name": InvalidName("transit key must be ..."),
    "transit-input": TransitInputError("ciphertext is not valid"),
    "secret-not-found": SecretNotFound(MARK),
    "transit-key-not-found": TransitKeyNotFound(MARK),
    "cas": CasMismatch(MARK),
    "rate": RateLimited(7),
}


@pytest.fixture
async def tiny() -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/raise/{name}")
    async def raise_(name: str) -> None:
        raise RAISED[name]

    @app.put("/body")
    async def body(request: WriteSecretRequest) -> dict[str, int]:
        return {"keys": len(request.data)}

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sidecar") as client:
        yield client


@pytest.mark.parametrize(
    ("name", "status", "detail"),
    [
        ("vault-unavailable", 503, "Vault is unavailable"),
        ("vault-403", 403, "permission denied by Vault"),
        ("vault-404", 404, "not found"),
        ("vault-429", 429, "Vault rate limit exceeded"),
        ("vault-400", 400, "Vault rejected the request"),
        ("vault-500", 502, "unexpected response from Vault"),
        ("vault-418", 502, "unexpected response from Vault"),
        ("auth", 401, "invalid API key"),
        ("forbidden", 403, "scope 'write' not granted"),
        ("path", 400, "path has an empty segment"),
        ("name", 400, "transit key must be ..."),
        ("transit-input", 400, "ciphertext is not valid"),
        ("secret-not-found", 404, "secret not found (or that version is deleted)"),
        ("transit-key-not-found", 404, "no such transit key for this agent"),
        ("cas", 409, "check-and-set version mismatch"),
        ("rate", 429, "rate limit exceeded"),
    ],
)
async def test_exception_mapping(
    tiny: httpx.AsyncClient, name: str, status: int, detail: str
) -> None:
    response = await tiny.get(f"/raise/{name}")
    assert response.status_code == status
    assert response.json() == {"detail": detail}
    assert MARK not in response.text


@pytest.mark.parametrize(("name", "retry_after"), [("vault-unavailable", "2"), ("rate", "7")])
async def test_retry_after(tiny: httpx.AsyncClient, name: str, retry_after: str) -> None:
    response = await tiny.get(f"/raise/{name}")
    assert response.headers["retry-after"] == retry_after


async def test_vault_429_has_retry_after(tiny: httpx.AsyncClient) -> None:
    assert int((await tiny.get("/raise/vault-429")).headers["retry-after"]) >= 1


async def test_401_tells_how_to_authenticate(tiny: httpx.AsyncClient) -> None:
    response = await tiny.get("/raise/auth")
    assert "Bearer" in response.headers["www-authenticate"]


@pytest.mark.parametrize(
    "body",
    [
        {"data": f"not-a-dict-but-secret-value-{MARK}"},
        {"data": [f"{MARK}"]},
        {"data": {"password": "ok"}, "extra": f"{MARK}"},
        {"data": {"password": f"{MARK}"}, "cas": f"{MARK}"},
        {"data": {"password": f"{MARK}"}, "cas": -1},
        [f"{MARK}"],
        f"{MARK}",
    ],
)
async def test_validation_errors_never_echo_input(tiny: httpx.AsyncClient, body: object) -> None:
    response = await tiny.put("/body", json=body)
    assert response.status_code == 422
    assert MARK not in response.text
    details = response.json()["detail"]
    assert details
    for detail in details:
        assert set(detail) == {"loc", "msg", "type"}


async def test_malformed_json_never_echoed(tiny: httpx.AsyncClient) -> None:
    raw = '{"data": {"password": "' + MARK
    response = await tiny.put("/body", content=raw, headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert MARK not in response.text


# -- The real application (no Vault needed: these requests never get that far) ---------------


@pytest.fixture
def app(monkeypatch: pytest.MonkeyPatch) -> FastAPI:
    # create_app configures process-wide logging; keep pytest's own log capture intact.
    monkeypatch.setattr("vault_mcp_sidecar.app.configure_logging", lambda level: None)
    settings = load_settings(
        vault_addr="http://127.0.0.1:9",  # nothing listens; nothing here may reach it
        vault_token="unit-root-token",
        api_keys_json=json.dumps({API_KEY: "alice"}),
        auth_jwt_enabled=False,
        max_body_bytes=4096,
    )
    return create_app(settings)


@pytest.fixture
async def sidecar(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://sidecar") as client:
        yield client


async def raw_get(app: FastAPI, path: str, raw_path: bytes) -> tuple[int, bytes]:
    """One GET exactly as a server would pass it on: httpx would normalise `.`/`..` away."""
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": raw_path,
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"sidecar"), (b"x-api-key", API_KEY.encode())],
        "client": ("127.0.0.1", 40000),
        "server": ("sidecar", 80),
    }
    messages: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        messages.append(message)

    await app(scope, receive, send)
    body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
    return messages[0]["status"], body


@pytest.mark.parametrize(
    ("method", "url", "body"),
    [
        ("PUT", "/secrets/app/db", {"data": f"not-a-dict-but-secret-value-{MARK}"}),
        ("PUT", "/secrets/app/db", {"data": {"k": "v"}, "note": f"{MARK}"}),
        ("POST", "/transit/encrypt", {"key": "k", "plaintext": f"not base64 {MARK}!"}),
        ("POST", "/transit/decrypt", {"key": "k", "ciphertext": f"vault:v1:{MARK}!"}),
        ("POST", "/transit/encrypt", {"key": f"{MARK}" * 20, "plaintext": "aGk="}),
        ("POST", "/secrets/app/db:destroy", {"versions": [f"{MARK}"]}),
    ],
)
async def test_real_app_422_never_echoes_the_body(
    sidecar: httpx.AsyncClient, method: str, url: str, body: object
) -> None:
    response = await sidecar.request(method, url, json=body, headers={"X-API-Key": API_KEY})
    assert response.status_code == 422
    assert MARK not in response.text
    for detail in response.json()["detail"]:
        assert set(detail) == {"loc", "msg", "type"}  # no "input", no "ctx"


async def test_real_app_requires_a_credential(sidecar: httpx.AsyncClient) -> None:
    response = await sidecar.put("/secrets/app/db", json={"data": {"k": f"{MARK}"}})
    assert response.status_code == 401
    assert MARK not in response.text


async def test_real_app_refuses_a_wrong_key(sidecar: httpx.AsyncClient) -> None:
    response = await sidecar.get("/whoami", headers={"X-API-Key": f"{MARK}-0123456789abcdef"})
    assert response.status_code == 401
    assert MARK not in response.text


async def test_real_app_whoami(sidecar: httpx.AsyncClient) -> None:
    response = await sidecar.get("/whoami", headers={"X-API-Key": API_KEY})
    assert response.status_code == 200
    assert response.json()["subject"] == "alice"
    assert API_KEY not in response.text


@pytest.mark.parametrize(
    ("path", "raw_path"),
    [
        ("/secrets/../bob/db", b"/secrets/..%2Fbob%2Fdb"),
        ("/secrets/../bob", b"/secrets/%2e%2e/bob"),
        ("/secrets/app/db", b"/secrets/app%2Fdb"),  # harmless once decoded, refused anyway
        ("/secrets/app/./db", b"/secrets/app/./db"),
        ("/secrets/app/../../bob/db", b"/secrets/app/../../bob/db"),
        ("/secrets/../bob/db", b"/secrets/../bob/db"),
        ("/secrets/app//db", b"/secrets/app//db"),
        ("/secrets/app\\db", b"/secrets/app\\db"),
        ("/secrets/app\x00db", b"/secrets/app%00db"),
        ("/secrets/caf\u00e9", b"/secrets/caf%C3%A9"),
        ("/secrets/" + "a/" * 40 + "x", b"/secrets/" + b"a/" * 40 + b"x"),
    ],
)
async def test_real_app_bad_paths_are_400(app: FastAPI, path: str, raw_path: bytes) -> None:
    status, body = await raw_get(app, path, raw_path)
    assert status == 400
    assert b"bob" not in body


async def _big_body() -> AsyncIterator[bytes]:
    yield b'{"data": {"k": "'
    for _ in range(16):
        yield MARK.encode() * 100
    yield b'"}}'


async def test_real_app_streamed_body_over_the_limit_is_413(sidecar: httpx.AsyncClient) -> None:
    response = await sidecar.put(
        "/secrets/app/db",
        content=_big_body(),
        headers={"X-API-Key": API_KEY, "content-type": "application/json"},
    )
    assert response.status_code == 413
    assert MARK not in response.text


async def test_real_app_healthz_needs_no_credential(sidecar: httpx.AsyncClient) -> None:
    response = await sidecar.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
