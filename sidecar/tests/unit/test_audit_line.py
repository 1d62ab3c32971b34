"""The audit line (audit.py, written by api.middleware) and the request metrics beside it.

The whole app (create_app) runs against `fake_vault`; its log records are collected from the
`vault_mcp_sidecar` loggers and rendered by the sidecar's own JSON formatter, so what is
checked is the line as it would be written. Real OpenBao, a real sidecar process and the
official MCP client: tests/integration/test_observability.py.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, ClassVar

import httpx
import pytest
from fastapi import FastAPI
from mcp import types

from sidecar.tests.unit.fake_vault import FakeVault, serving
from vault_mcp_sidecar.app import create_app
from vault_mcp_sidecar.audit import (
    UNKNOWN_TOOL,
    Call,
    Channel,
    ToolCall,
    audit_fields,
    outcome_of,
    tool_call_var,
)
from vault_mcp_sidecar.auth.principal import AuthMode, Principal
from vault_mcp_sidecar.auth.trusted_proxies import IN_PROCESS_PEER
from vault_mcp_sidecar.config import load_settings
from vault_mcp_sidecar.logs import JsonFormatter
from vault_mcp_sidecar.mcp_server import _AuditedToolCalls
from vault_mcp_sidecar.metrics import SidecarMetrics
from vault_mcp_sidecar.scopes import Scope

ALICE_KEY = "alice-key-0123456789abcdef"
READER_KEY = "alice-reader-0123456789abcdef"
API_KEYS = {ALICE_KEY: "alice", READER_KEY: {"agent": "alice", "scopes": ["read"]}}
SECRET_VALUE = "s3cret-value-never-logged"
ALICE = Principal("alice", frozenset(Scope), AuthMode.API_KEY, "key:0123abcd")


# -- outcome words and fields (pure) ----------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "word"),
    [
        (200, "ok"),
        (204, "ok"),
        (400, "invalid"),
        (401, "denied"),
        (403, "denied"),
        (404, "not_found"),
        (405, "invalid"),
        (409, "conflict"),
        (413, "invalid"),
        (422, "invalid"),
        (429, "rate_limited"),
        (500, "error"),
        (502, "error"),
        (503, "unavailable"),
    ],
)
def test_outcome_words(status: int, word: str) -> None:
    assert outcome_of(status) == word


def test_rest_and_mcp_lines_name_the_route_or_the_tool() -> None:
    rest = Call(Channel.REST, "read_secret", "GET", 200, 0.0012, ALICE, "app/db", None, ("v1",))
    assert audit_fields(rest) == {
        "channel": "rest",
        "route": "read_secret",
        "method": "GET",
        "agent": "alice",
        "principal": "key:0123abcd",
        "auth_mode": "api_key",
        "path": "app/db",
        "status": 200,
        "outcome": "ok",
        "vault_request_ids": ["v1"],
        "duration_ms": 1.2,
    }
    mcp = audit_fields(Call(Channel.MCP, "transit_encrypt", "POST", 200, 0.0, ALICE, None, "k"))
    assert (mcp["channel"], mcp["tool"], mcp["transit_key"]) == ("mcp", "transit_encrypt", "k")
    assert "route" not in mcp
    anonymous = audit_fields(Call(Channel.REST, None, "GET", 404, 0.0, None))
    assert not {"route", "agent", "principal", "auth_mode", "path"} & anonymous.keys()
    unknown = audit_fields(Call(Channel.MCP, None, "-", 404, 0.0, ALICE))
    assert unknown["tool"] == UNKNOWN_TOOL


# -- the app: one line per call, with the right fields ----------------------------------------


class Captured(logging.Handler):
    """Every record of the sidecar's loggers, rendered as the sidecar renders them."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[dict[str, Any]] = []
        self.text: list[str] = []
        self.setFormatter(JsonFormatter())

    def emit(self, record: logging.LogRecord) -> None:
        line = self.format(record)
        self.text.append(line)
        self.lines.append(json.loads(line))

    def audit(self) -> list[dict[str, Any]]:
        return [line for line in self.lines if line["logger"] == "vault_mcp_sidecar.audit"]

    def access(self) -> list[dict[str, Any]]:
        return [line for line in self.lines if line["logger"] == "vault_mcp_sidecar.access"]


@dataclass
class Sidecar:
    app: FastAPI
    http: httpx.AsyncClient
    log: Captured
    vault: FakeVault

    @property
    def metrics(self) -> SidecarMetrics:
        metrics: SidecarMetrics | None = self.app.state.runtime.metrics
        assert metrics is not None
        return metrics

    def count(self, **labels: str) -> float:
        value = self.metrics.registry.get_sample_value("vaultmcp_sidecar_requests_total", labels)
        return 0.0 if value is None else value

    def only_audit_line(self) -> dict[str, Any]:
        lines = self.log.audit()
        assert len(lines) == 1, lines
        return lines[0]


@pytest.fixture
def captured() -> Iterator[Captured]:
    handler = Captured()
    logger = logging.getLogger("vault_mcp_sidecar")
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)


def client_for(app: FastAPI, peer: str = "127.0.0.1") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(peer, 4321))
    return httpx.AsyncClient(transport=transport, base_url="http://sidecar")


@asynccontextmanager
async def run(captured: Captured, **overrides: Any) -> AsyncIterator[Sidecar]:
    async with serving() as vault:
        settings = load_settings(
            vault_addr=vault.addr,
            vault_token="s.parent-token",
            auth_jwt_enabled=False,
            api_keys_json=json.dumps(API_KEYS),
            rate_limit_enabled=False,
            **overrides,
        )
        app = create_app(settings)
        async with app.router.lifespan_context(app), client_for(app) as http:
            http.headers["X-API-Key"] = ALICE_KEY
            captured.lines.clear()
            captured.text.clear()
            yield Sidecar(app, http, captured, vault)


@pytest.fixture
async def sidecar(captured: Captured) -> AsyncIterator[Sidecar]:
    async with run(captured) as running:
        yield running


def no_value_in(log: Captured, *values: str) -> None:
    text = "\n".join(log.text)
    assert [value for value in values if value in text] == []


async def test_a_read_is_one_line_with_its_vault_request_ids(sidecar: Sidecar) -> None:
    await sidecar.http.get("/whoami")  # nothing below depends on what the first call did
    sidecar.log.lines.clear()
    issued_before = len(sidecar.vault.issued)
    seen_before = len(sidecar.vault.seen_request_ids)

    response = await sidecar.http.get("/secrets/app/db", headers={"X-Request-ID": "t-read"})

    assert response.status_code == 200
    line = sidecar.only_audit_line()
    issued = sidecar.vault.issued[issued_before:]
    assert issued  # the parent's lookup and the read itself
    assert {k: v for k, v in line.items() if k not in ("ts", "duration_ms")} == {
        "level": "info",
        "logger": "vault_mcp_sidecar.audit",
        "msg": "audit",
        "request_id": "t-read",
        "channel": "rest",
        "route": "read_secret",
        "method": "GET",
        "agent": "alice",
        "principal": line["principal"],
        "auth_mode": "api_key",
        "path": "app/db",
        "status": 200,
        "outcome": "ok",
        "vault_request_ids": issued,
    }
    assert line["principal"].startswith("key:")
    assert line["duration_ms"] >= 0
    # Vault was told the request's id on every call made for it.
    assert set(sidecar.vault.seen_request_ids[seen_before:]) == {"t-read"}
    no_value_in(sidecar.log, "hunter2", ALICE_KEY, "s.parent-token")
    labels = {"channel": "rest", "route": "read_secret", "method": "GET", "agent": "alice"}
    assert sidecar.count(**labels, status="200") == 1


async def test_a_write_names_its_path_never_its_value(sidecar: Sidecar) -> None:
    body = {"data": {"password": SECRET_VALUE}}
    assert (await sidecar.http.put("/secrets/app/db", json=body)).status_code == 200
    line = sidecar.only_audit_line()
    assert (line["route"], line["path"], line["outcome"]) == ("write_secret", "app/db", "ok")
    no_value_in(sidecar.log, SECRET_VALUE, ALICE_KEY)


@pytest.mark.parametrize(
    ("method", "url", "body", "route", "path"),
    [
        ("GET", "/secrets?prefix=app/", None, "list_secrets", "app/"),
        ("GET", "/secrets", None, "list_secrets", ""),
        ("POST", "/secrets/app/db:undelete", {"versions": [1]}, "undelete_secret", "app/db"),
        ("POST", "/secrets/app/db:destroy", {"versions": [1]}, "destroy_secret", "app/db"),
        ("DELETE", "/secrets/app/db", None, "delete_secret", "app/db"),
        ("GET", "/secrets/app/db?version=2", None, "read_secret", "app/db"),
    ],
)
async def test_secret_routes_log_the_relative_path(
    sidecar: Sidecar, method: str, url: str, body: Any, route: str, path: str
) -> None:
    # The fake Vault's server cannot parse LIST, so a list ends in an error: its line still
    # names the (valid) prefix, as any refused call's line does.
    response = await sidecar.http.request(method, url, json=body)
    assert response.is_success or route == "list_secrets", response.text
    line = sidecar.only_audit_line()
    assert (line["route"], line["path"], line["status"]) == (route, path, response.status_code)


@pytest.mark.parametrize(
    "url",
    ["/secrets/app%2F..%2Fother", "/secrets/app/%2e%2e/x", "/secrets?prefix=../x"],
)
async def test_a_refused_path_is_not_repeated_into_the_log(sidecar: Sidecar, url: str) -> None:
    response = await sidecar.http.get(url)
    assert response.status_code == 400
    line = sidecar.only_audit_line()
    assert line["outcome"] == "invalid"
    assert "path" not in line
    assert ".." not in json.dumps(line)


async def test_transit_lines_name_the_key_not_the_plaintext(sidecar: Sidecar) -> None:
    plaintext = base64.b64encode(SECRET_VALUE.encode()).decode()
    body = {"key": "payments", "plaintext": plaintext}
    assert (await sidecar.http.post("/transit/encrypt", json=body)).status_code == 200
    line = sidecar.only_audit_line()
    assert (line["route"], line["transit_key"]) == ("transit_encrypt", "payments")
    assert "path" not in line
    no_value_in(sidecar.log, SECRET_VALUE, plaintext, "vault:v1:Y2lwaGVy")


async def test_an_invalid_transit_key_name_is_not_logged(sidecar: Sidecar) -> None:
    body = {"key": "no such key!", "plaintext": "aGk="}
    assert (await sidecar.http.post("/transit/encrypt", json=body)).status_code == 400
    line = sidecar.only_audit_line()
    assert "transit_key" not in line
    no_value_in(sidecar.log, "no such key!")


async def test_scope_denied_and_unauthenticated(sidecar: Sidecar) -> None:
    headers = {"X-API-Key": READER_KEY}
    denied = await sidecar.http.put("/secrets/app/db", json={"data": {"a": "b"}}, headers=headers)
    anonymous = await sidecar.http.get("/whoami", headers={"X-API-Key": ""})
    assert (denied.status_code, anonymous.status_code) == (403, 401)

    first, second = sidecar.log.audit()
    assert (first["route"], first["agent"], first["outcome"]) == ("write_secret", "alice", "denied")
    assert first["vault_request_ids"] == []
    assert (second["route"], second["outcome"]) == ("whoami", "denied")
    assert "agent" not in second
    assert sidecar.count(channel="rest", route="whoami", method="GET", status="401", agent="") == 1
    no_value_in(sidecar.log, READER_KEY)


async def test_an_unrouted_request_is_counted_as_unmatched(sidecar: Sidecar) -> None:
    assert (await sidecar.http.get("/no/such/route")).status_code == 404
    line = sidecar.only_audit_line()
    assert "route" not in line
    assert "path" not in line  # the URL is not a secret path; never copied into the line
    labels = {"channel": "rest", "route": "unmatched", "method": "GET", "agent": "alice"}
    assert sidecar.count(**labels, status="404") == 0  # not authenticated by any route
    assert sidecar.count(**{**labels, "agent": ""}, status="404") == 1


async def test_the_route_is_named_when_identity_headers_are_stripped(captured: Captured) -> None:
    # TrustedProxyMiddleware copies the scope to drop headers from an untrusted peer, so the
    # router's note of the route never reaches the middleware's scope: it is matched again.
    async with run(captured) as sidecar:
        async with client_for(sidecar.app, peer="10.9.8.7") as remote:
            headers = {"X-API-Key": ALICE_KEY, "X-SSL-Client-S-DN": "CN=bob"}
            assert (await remote.get("/whoami", headers=headers)).json()["subject"] == "alice"
        line = sidecar.only_audit_line()
        assert (line["route"], line["agent"]) == ("whoami", "alice")


async def test_probes_and_scrapes_are_neither_logged_nor_counted(sidecar: Sidecar) -> None:
    assert (await sidecar.http.get("/whoami")).status_code == 200
    assert (await sidecar.http.get("/healthz")).status_code == 200
    scrape = await sidecar.http.get("/metrics", headers={"X-API-Key": ""})  # no credential
    assert scrape.status_code == 200
    assert scrape.headers["content-type"].startswith("text/plain")
    assert (
        'vaultmcp_sidecar_requests_total{agent="alice",channel="rest",method="GET",'
        'route="whoami",status="200"} 1.0'
    ) in scrape.text
    assert len(sidecar.log.lines) == 1  # /whoami's audit line only
    assert (
        sum(
            s.value
            for family in sidecar.metrics.registry.collect()
            if family.name == "vaultmcp_sidecar_requests"
            for s in family.samples
            if s.name.endswith("_total")
        )
        == 1
    )


async def test_metrics_can_be_switched_off(captured: Captured) -> None:
    async with run(captured, metrics_enabled=False) as sidecar:
        assert sidecar.app.state.runtime.metrics is None
        assert (await sidecar.http.get("/metrics")).status_code == 404
        assert (await sidecar.http.get("/whoami")).status_code == 200
        assert sidecar.log.audit()[-1]["route"] == "whoami"  # the audit line stays


async def test_a_replayed_tool_call_is_an_mcp_line(sidecar: Sidecar) -> None:
    tool_call = ToolCall("read_secret")
    token = tool_call_var.set(tool_call)
    try:
        async with client_for(sidecar.app, peer=IN_PROCESS_PEER) as replay:
            headers = {"X-API-Key": ALICE_KEY, "X-Request-ID": "mcp-1"}
            assert (await replay.get("/secrets/app/db", headers=headers)).status_code == 200
    finally:
        tool_call_var.reset(token)
    assert tool_call.audited
    line = sidecar.only_audit_line()
    assert (line["channel"], line["tool"], line["request_id"]) == ("mcp", "read_secret", "mcp-1")
    assert (line["path"], line["agent"]) == ("app/db", "alice")
    labels = {"channel": "mcp", "route": "read_secret", "method": "GET", "agent": "alice"}
    assert sidecar.count(**labels, status="200") == 1


async def test_requests_to_mcp_itself_are_transport_lines_not_audit_lines(
    sidecar: Sidecar,
) -> None:
    response = await sidecar.http.post("/mcp", json={}, headers={"X-API-Key": ""})
    assert response.status_code == 401
    assert sidecar.log.audit() == []
    (line,) = sidecar.log.access()
    assert (line["msg"], line["method"], line["status"]) == ("mcp transport", "POST", 401)
    transport = sidecar.metrics.registry.get_sample_value(
        "vaultmcp_sidecar_mcp_transport_requests_total", {"method": "POST", "status": "401"}
    )
    assert transport == 1


# -- MCP tool calls refused before any replay ---------------------------------------------------


class FakeRequest:
    headers: ClassVar[dict[str, str]] = {"x-request-id": "outer-7"}

    class state:  # noqa: N801 - mirrors starlette's `request.state`
        principal = ALICE


class FakeServer:
    def __init__(self, in_request: bool = True) -> None:
        self.in_request = in_request

    @property
    def request_context(self) -> Any:
        if not self.in_request:
            raise LookupError("no request")
        return type("Context", (), {"request": FakeRequest})


def tool_request(name: str) -> types.CallToolRequest:
    return types.CallToolRequest(
        method="tools/call", params=types.CallToolRequestParams(name=name, arguments={})
    )


ERROR_RESULT = types.ServerResult(types.CallToolResult(content=[], isError=True))


async def replaying(_request: types.CallToolRequest) -> types.ServerResult:
    tool_call = tool_call_var.get()
    assert tool_call is not None
    tool_call.audited = True  # what the replay's middleware does
    return ERROR_RESULT


async def refusing(_request: types.CallToolRequest) -> types.ServerResult:
    return ERROR_RESULT


async def crashing(_request: types.CallToolRequest) -> types.ServerResult:
    raise RuntimeError("boom")


def audited(handler: Any, metrics: SidecarMetrics, server: Any = None) -> _AuditedToolCalls:
    tools = frozenset({"read_secret", "write_secret"})
    return _AuditedToolCalls(server or FakeServer(), handler, tools, metrics)


async def test_a_replayed_call_is_left_to_its_replay(captured: Captured) -> None:
    metrics = SidecarMetrics()
    assert await audited(replaying, metrics)(tool_request("read_secret")) is ERROR_RESULT
    assert captured.audit() == []


async def test_a_refused_call_gets_its_one_line_here(captured: Captured) -> None:
    metrics = SidecarMetrics()
    await audited(refusing, metrics)(tool_request("write_secret"))
    (line,) = captured.audit()
    assert line["request_id"] == "outer-7"  # the MCP request that carried the call
    assert (line["channel"], line["tool"], line["method"]) == ("mcp", "write_secret", "-")
    assert (line["status"], line["outcome"], line["agent"]) == (400, "invalid", "alice")
    labels = {"channel": "mcp", "route": "write_secret", "method": "-", "agent": "alice"}
    assert (
        metrics.registry.get_sample_value(
            "vaultmcp_sidecar_requests_total", {**labels, "status": "400"}
        )
        == 1
    )


async def test_an_unknown_tool_is_not_echoed(captured: Captured) -> None:
    metrics = SidecarMetrics()
    name = "x\nforged line " + SECRET_VALUE
    await audited(refusing, metrics, FakeServer(in_request=False))(tool_request(name))
    (line,) = captured.audit()
    assert (line["tool"], line["status"], line["outcome"]) == ("unknown", 404, "not_found")
    assert "agent" not in line
    no_value_in(captured, SECRET_VALUE, "forged")


async def test_a_crashed_call_is_audited_and_still_raises(captured: Captured) -> None:
    with pytest.raises(RuntimeError):
        await audited(crashing, SidecarMetrics())(tool_request("read_secret"))
    (line,) = captured.audit()
    assert (line["tool"], line["status"], line["outcome"]) == ("read_secret", 500, "error")
    assert tool_call_var.get() is None
