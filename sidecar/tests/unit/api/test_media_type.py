"""api.media_type: request bodies are UTF-8 JSON, anything else is 415 (pure rules)."""

from __future__ import annotations

import json

import httpx
import pytest

from vault_mcp_sidecar.api.errors import OPERATION_ERRORS, error_responses
from vault_mcp_sidecar.api.media_type import UnsupportedMediaType, check_json_body
from vault_mcp_sidecar.app import create_app
from vault_mcp_sidecar.config import load_settings
from vault_mcp_sidecar.operations import OPERATION_SCOPES

BODY = {"content-length": "12"}


@pytest.mark.parametrize(
    "headers",
    [
        {"content-type": "application/json"} | BODY,
        {"content-type": "Application/JSON"} | BODY,
        {"content-type": "application/json; charset=utf-8"} | BODY,
        {"content-type": 'application/json; charset="UTF-8"'} | BODY,
        {"content-type": "application/merge-patch+json"} | BODY,
        {"content-type": "application/json", "content-encoding": "identity"} | BODY,
        {},  # no body, no type: the route's own validation decides (422 if it needs one)
        {"content-length": "0"},
    ],
)
def test_json_bodies_pass(headers: dict[str, str]) -> None:
    check_json_body(headers)


@pytest.mark.parametrize(
    "headers",
    [
        {"content-type": "text/plain"} | BODY,
        {"content-type": "application/x-www-form-urlencoded"} | BODY,
        {"content-type": "multipart/form-data; boundary=x"} | BODY,
        {"content-type": "application/xml"} | BODY,
        {"content-type": "text/json"} | BODY,
        {"content-type": "application/jsonx"} | BODY,
        {"content-type": ""} | BODY,
        {"content-type": "application/json; charset=latin-1"} | BODY,
        {"content-type": "application/json; charset=utf-16"} | BODY,
        {"content-type": "application/json", "content-encoding": "gzip"} | BODY,
        BODY,  # a body without a type
        {"transfer-encoding": "chunked"},
    ],
)
def test_anything_else_is_unsupported(headers: dict[str, str]) -> None:
    with pytest.raises(UnsupportedMediaType) as refused:
        check_json_body(headers)
    for value in headers.values():
        if value not in ("", "12"):
            assert value not in str(refused.value)  # names the rule, not what was sent


def test_every_operation_documents_its_errors() -> None:
    assert set(OPERATION_ERRORS) == set(OPERATION_SCOPES)
    for operation in OPERATION_SCOPES:
        documented = error_responses(operation)
        assert {401, 403, 413} <= set(documented), operation
        assert all(response["description"] for response in documented.values())


def test_exactly_the_operations_with_a_body_document_415(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("vault_mcp_sidecar.app.configure_logging", lambda level: None)
    settings = load_settings(
        vault_addr="http://127.0.0.1:9",
        vault_token="unit-root-token",
        api_keys_json=json.dumps({"unit-api-key-0123456789abcdef": "alice"}),
        auth_jwt_enabled=False,
    )
    operations = [
        operation
        for path in create_app(settings).openapi()["paths"].values()
        for operation in path.values()
    ]
    assert {operation["operationId"] for operation in operations} == set(OPERATION_SCOPES)
    for operation in operations:
        takes_body = "requestBody" in operation
        assert ("415" in operation["responses"]) is takes_body, operation["operationId"]


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("text/plain", b'{"data": {}}'),
        ("application/json; charset=latin-1", '{"data": {"v": "caf\u00e9"}}'.encode("latin-1")),
    ],
)
async def test_the_app_refuses_before_reading_the_body(
    monkeypatch: pytest.MonkeyPatch, content_type: str, body: bytes
) -> None:
    """415 even where FastAPI would otherwise have tried (and failed) to parse the body."""
    monkeypatch.setattr("vault_mcp_sidecar.app.configure_logging", lambda level: None)
    settings = load_settings(
        vault_addr="http://127.0.0.1:9",  # nothing listens; nothing here may reach it
        vault_token="unit-root-token",
        api_keys_json=json.dumps({"unit-api-key-0123456789abcdef": "alice"}),
        auth_jwt_enabled=False,
    )
    transport = httpx.ASGITransport(app=create_app(settings))
    async with httpx.AsyncClient(transport=transport, base_url="http://sidecar") as client:
        headers = {"X-API-Key": "unit-api-key-0123456789abcdef", "Content-Type": content_type}
        response = await client.put("/secrets/x", content=body, headers=headers)
    assert response.status_code == 415, response.text
    assert set(response.json()) == {"detail"}
