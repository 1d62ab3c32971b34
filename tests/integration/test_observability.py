"""Metrics and the audit line against a real OpenBao, real sidecar processes and the official MCP
client (issue 5, "Observability").

Every call — a REST request or an MCP tool call — writes exactly one audit line with the right
fields; the Vault request ids in it are entries of OpenBao's own audit log, which also carries
the sidecar's request id (`X-Request-Id`, once OpenBao is told to audit that header); no secret
value, key or token appears anywhere in the log; and `/metrics` counters move by exactly what
the calls did.
"""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from devkit.openbao import OpenBao
from devkit.sidecar import SidecarProcess
from tests.integration.conftest import API_KEYS, SidecarFactory, sidecar_env
from tests.integration.mcp_helpers import IGNORE_DEPRECATION, json_of, mcp_session
from tests.integration.test_logs import VAULT_TOKEN_SHAPE
from tests.integration.vault_support import KEY_OF, eventually, unique

pytestmark = pytest.mark.filterwarnings(IGNORE_DEPRECATION)

READER_KEY = "alice-reader-key-0123456789"
KEYS: dict[str, Any] = {**API_KEYS, READER_KEY: {"agent": "alice", "scopes": ["read"]}}
ALICE = {"X-API-Key": KEY_OF["alice"]}
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture(scope="module")
def audited_bao(openbao: OpenBao) -> OpenBao:
    # What an operator does to correlate: have OpenBao write the sidecar's request id into its
    # audit entries (in clear; it is an id, not a secret).
    openbao.api("POST", "sys/config/auditing/request-headers/x-request-id", {"hmac": False})
    # The agent's token role, as the operator writes it: every mint is one Vault call.
    role = {"allowed_policies": ["mcp-agent-alice"], "renewable": False, "orphan": False}
    openbao.api("POST", "auth/token/roles/mcp-agent-alice", role)
    return openbao


@pytest.fixture(scope="module")
def sidecar(audited_bao: OpenBao) -> Iterator[SidecarProcess]:
    env = sidecar_env(audited_bao, API_KEYS_JSON=json.dumps(KEYS), CHILD_TOKEN_ENABLED="true")
    with SidecarProcess(env) as process:
        with httpx.Client(base_url=process.url, headers=ALICE) as http:
            # The parent token's first lookup happens here, not inside a measured call.
            assert http.get(f"/secrets/{unique('warm-up')}").status_code == 404
        yield process


# -- helpers -----------------------------------------------------------------------------------


def scrape(sidecar: SidecarProcess) -> Samples:
    response = httpx.get(f"{sidecar.url}/metrics", timeout=10)  # no credential needed
    assert response.status_code == 200
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def moved(before: Samples, after: Samples, name: str, **labels: str) -> float:
    key = (name, frozenset(labels.items()))
    return after.get(key, 0.0) - before.get(key, 0.0)


def moved_total(before: Samples, after: Samples, name: str) -> float:
    keys = {key for key in after.keys() | before.keys() if key[0] == name}
    return sum(after.get(key, 0.0) - before.get(key, 0.0) for key in keys)


def log_lines(sidecar: SidecarProcess, logger: str) -> list[dict[str, Any]]:
    lines = (json.loads(line) for line in sidecar.logs().splitlines() if line.strip())
    return [line for line in lines if line["logger"] == logger]


def audit_lines(sidecar: SidecarProcess, request_ids: set[str]) -> dict[str, list[dict[str, Any]]]:
    """request id -> its audit lines, once each id has at least one (a line is written just
    after its response, so the last one may trail the client by a moment)."""

    def attempt() -> dict[str, list[dict[str, Any]]] | None:
        found: dict[str, list[dict[str, Any]]] = {}
        for line in log_lines(sidecar, "vault_mcp_sidecar.audit"):
            found.setdefault(line.get("request_id", ""), []).append(line)
        return found if request_ids <= found.keys() else None

    return eventually(attempt, timeout=10)


def vault_entries_by_request_id(bao: OpenBao) -> dict[str, list[dict[str, Any]]]:
    """OpenBao's audit entries (request and response) by OpenBao's own request id."""
    found: dict[str, list[dict[str, Any]]] = {}
    for entry in bao.audit_entries():
        found.setdefault(entry.get("request", {}).get("id", ""), []).append(entry)
    return found


def sidecar_id_in(entry: dict[str, Any]) -> str | None:
    values = entry.get("request", {}).get("headers", {}).get("x-request-id")
    return values[0] if values else None


def assert_no_leak(sidecar: SidecarProcess, bao: OpenBao, values: list[str]) -> None:
    logs = sidecar.logs()
    forbidden = [*values, *KEYS, bao.token]
    assert [value for value in forbidden if value in logs] == []
    assert VAULT_TOKEN_SHAPE.findall(logs) == []


# -- REST ----------------------------------------------------------------------------------------


def test_each_rest_call_is_one_audit_line_traceable_in_vaults_audit_log(
    sidecar: SidecarProcess, audited_bao: OpenBao
) -> None:
    password = f"pw-{uuid.uuid4().hex}"
    note = f"note-{uuid.uuid4().hex}"
    plaintext = base64.b64encode(note.encode()).decode()
    path = f"{unique('obs')}/db"
    # request id -> (method, url, body, headers, expected fields, Vault calls that answer
    # with a request id: child-token mint, then the operation itself when it succeeds)
    calls: list[tuple[str, str, Any, dict[str, str], dict[str, Any], int]] = [
        ("PUT", f"/secrets/{path}", {"data": {"password": password}}, ALICE,
         {"route": "write_secret", "status": 200, "outcome": "ok", "path": path}, 2),
        ("GET", f"/secrets/{path}", None, ALICE,
         {"route": "read_secret", "status": 200, "outcome": "ok", "path": path}, 2),
        ("GET", f"/secrets/{path}-gone", None, ALICE,
         {"route": "read_secret", "status": 404, "outcome": "not_found"}, 1),
        ("PUT", f"/secrets/{path}", {"data": {"password": password}, "cas": 7}, ALICE,
         {"route": "write_secret", "status": 409, "outcome": "conflict", "path": path}, 1),
        ("PUT", f"/secrets/{path}", {"data": {"password": password}}, {"X-API-Key": READER_KEY},
         {"route": "write_secret", "status": 403, "outcome": "denied", "agent": "alice"}, 0),
        ("GET", "/whoami", None, {"X-API-Key": f"wrong-{uuid.uuid4().hex}"},
         {"route": "whoami", "status": 401, "outcome": "denied"}, 0),
        ("PUT", f"/secrets/{path}", {"data": password}, ALICE,
         {"route": "write_secret", "status": 422, "outcome": "invalid"}, 0),
        ("POST", "/transit/encrypt", {"key": "obs", "plaintext": plaintext}, ALICE,
         {"route": "transit_encrypt", "status": 200, "outcome": "ok", "transit_key": "obs"}, 2),
    ]  # fmt: skip
    before = scrape(sidecar)
    sent: dict[str, tuple[dict[str, Any], int]] = {}
    with httpx.Client(base_url=sidecar.url, timeout=20) as http:
        for method, url, body, headers, expected, vault_ids in calls:
            request_id = f"obs-{uuid.uuid4().hex}"
            response = http.request(
                method, url, json=body, headers={**headers, "X-Request-ID": request_id}
            )
            assert response.status_code == expected["status"], (url, response.text)
            sent[request_id] = ({**expected, "method": method}, vault_ids)
    after = scrape(sidecar)

    lines = audit_lines(sidecar, set(sent))
    vault = vault_entries_by_request_id(audited_bao)
    for request_id, (expected, vault_ids) in sent.items():
        assert len(lines[request_id]) == 1, lines[request_id]  # exactly one line per call
        line = lines[request_id][0]
        assert {key: line.get(key) for key in expected} == expected
        assert line["channel"] == "rest"
        if expected["status"] != 401:
            assert (line["agent"], line["auth_mode"]) == ("alice", "api_key")
            assert line["principal"].startswith("key:")
        else:
            assert "agent" not in line
        # Each Vault request id is an entry of OpenBao's audit log, made for this call.
        assert len(line["vault_request_ids"]) == vault_ids, line
        for vault_id in line["vault_request_ids"]:
            assert {sidecar_id_in(entry) for entry in vault[vault_id]} == {request_id}

    # Calls Vault refused answer without a request id; the header still ties them to the call.
    (missing_id,) = [rid for rid, (exp, _) in sent.items() if exp["status"] == 404]
    refused_reads = [
        entry["request"]["path"]
        for entries in vault.values()
        for entry in entries
        if sidecar_id_in(entry) == missing_id and entry["type"] == "response"
    ]
    assert f"secret/data/mcp/alice/{path}-gone" in refused_reads

    assert_no_leak(sidecar, audited_bao, [password, note, plaintext])

    # Counters moved by exactly these calls.
    requests = "vaultmcp_sidecar_requests_total"
    assert moved_total(before, after, requests) == len(calls)
    for method, _, _, _, expected, _ in calls:
        agent = "" if expected["status"] == 401 else "alice"
        labels = {"channel": "rest", "route": expected["route"], "method": method}
        count = sum(1 for c in calls if c[0] == method and c[4] == expected)
        assert moved(before, after, requests, **labels, status=str(expected["status"]),
                     agent=agent) == count  # fmt: skip
    mints = sum(1 for *_, vault_ids in calls if vault_ids)
    assert moved(before, after, "vaultmcp_sidecar_token_mints_total", outcome="ok") == mints
    assert moved_total(before, after, "vaultmcp_sidecar_token_mints_total") == mints
    vault_calls = "vaultmcp_sidecar_vault_request_duration_seconds_count"
    assert moved(before, after, vault_calls, operation="token_create") == mints
    assert moved(before, after, vault_calls, operation="kv_write") == 2  # written; CAS refused
    assert moved(before, after, vault_calls, operation="kv_read") == 2  # found; missing
    assert moved(before, after, vault_calls, operation="transit_encrypt") == 1
    assert moved_total(before, after, vault_calls) == mints + 5
    assert moved_total(before, after, "vaultmcp_sidecar_vault_unavailable_total") == 0


# -- MCP -----------------------------------------------------------------------------------------


def test_each_mcp_tool_call_is_one_audit_line(
    sidecar: SidecarProcess, audited_bao: OpenBao
) -> None:
    secret = f"mcp-{uuid.uuid4().hex}"
    path = f"{unique('obs-mcp')}/db"
    with httpx.Client(base_url=sidecar.url, headers=ALICE) as http:
        assert http.put(f"/secrets/{path}", json={"data": {"v": secret}}).status_code == 200
    request_id = f"obs-mcp-{uuid.uuid4().hex}"  # sent on every HTTP request of the session
    before = scrape(sidecar)

    async def session() -> None:
        async with mcp_session(sidecar.url, {**ALICE, "X-Request-ID": request_id}) as mcp:
            read = await mcp.call_tool("read_secret", {"path": path})
            assert json_of(read)["data"] == {"v": secret}
            assert (await mcp.call_tool("read_secret", {"path": f"{path}/../x"})).isError
            assert (await mcp.call_tool("no_such_tool", {})).isError
            missing = await mcp.call_tool("read_secret", {"path": f"{path}-gone"})
            assert missing.isError

    asyncio.run(session())
    after = scrape(sidecar)

    expected = [
        ("read_secret", "GET", 200, "ok", path),
        ("read_secret", "-", 400, "invalid", None),  # refused before any replay
        ("unknown", "-", 404, "not_found", None),
        ("read_secret", "GET", 404, "not_found", f"{path}-gone"),
    ]

    def four_lines() -> list[dict[str, Any]] | None:
        lines = audit_lines(sidecar, {request_id})[request_id]
        return lines if len(lines) >= len(expected) else None

    lines = eventually(four_lines, timeout=10)
    assert [
        (line["tool"], line["method"], line["status"], line["outcome"], line.get("path"))
        for line in lines
    ] == expected
    assert all(line["channel"] == "mcp" and line["agent"] == "alice" for line in lines)
    assert all("route" not in line for line in lines)
    # The HTTP requests to /mcp itself are transport lines, not audit lines.
    transport = [
        line
        for line in log_lines(sidecar, "vault_mcp_sidecar.access")
        if line.get("request_id") == request_id
    ]
    assert transport
    assert {line["msg"] for line in transport} == {"mcp transport"}

    vault = vault_entries_by_request_id(audited_bao)
    ok_ids = lines[0]["vault_request_ids"]
    assert len(ok_ids) == 2  # mint + read
    for vault_id in ok_ids:
        assert {sidecar_id_in(entry) for entry in vault[vault_id]} == {request_id}
    assert_no_leak(sidecar, audited_bao, [secret])

    requests = "vaultmcp_sidecar_requests_total"
    assert moved_total(before, after, requests) == len(expected)
    for tool, method, status, _, _ in expected:
        labels = {"channel": "mcp", "route": tool, "method": method, "agent": "alice"}
        assert moved(before, after, requests, **labels, status=str(status)) == 1
    assert moved_total(before, after, "vaultmcp_sidecar_mcp_transport_requests_total") >= 4


# -- rate limit ----------------------------------------------------------------------------------


def test_a_rate_limited_call_is_audited_and_counted(start_sidecar: SidecarFactory) -> None:
    sidecar = start_sidecar(
        RATE_LIMIT_ENABLED="true", RATE_LIMIT_REQUESTS="1", RATE_LIMIT_WINDOW_SECONDS="3600"
    )
    ids = [f"obs-rl-{n}-{uuid.uuid4().hex}" for n in range(2)]
    with httpx.Client(base_url=sidecar.url, headers=ALICE) as http:
        first = http.get("/secrets", params={"prefix": ""}, headers={"X-Request-ID": ids[0]})
        second = http.get("/secrets", params={"prefix": ""}, headers={"X-Request-ID": ids[1]})
    assert (first.status_code, second.status_code) == (200, 429)

    lines = audit_lines(sidecar, set(ids))
    (allowed,), (limited,) = lines[ids[0]], lines[ids[1]]
    assert (allowed["route"], allowed["outcome"]) == ("list_secrets", "ok")
    assert (limited["route"], limited["status"], limited["outcome"]) == (
        "list_secrets",
        429,
        "rate_limited",
    )
    assert (limited["agent"], limited["vault_request_ids"]) == ("alice", [])

    metrics = scrape(sidecar)
    assert metrics[("vaultmcp_sidecar_rate_limited_total", frozenset({("agent", "alice")}))] == 1
    labels = {"channel": "rest", "route": "list_secrets", "method": "GET", "agent": "alice"}
    assert moved({}, metrics, "vaultmcp_sidecar_requests_total", **labels, status="429") == 1
    assert moved({}, metrics, "vaultmcp_sidecar_requests_total", **labels, status="200") == 1
