"""What the sidecar writes to its log at LOG_LEVEL=debug: structured JSON with request ids,
and never a secret value, an API key, a JWT or a Vault token (seed security notes, DESIGN §5).
"""

from __future__ import annotations

import base64
import json
import re
import time
import uuid
from typing import Any

import httpx
import jwt
import pytest

from devkit.openbao import OpenBao
from devkit.sidecar import SidecarProcess
from tests.integration.conftest import JWT_SECRET, SidecarFactory
from tests.integration.vault_support import KEY_OF, client, eventually, unique

# Service, batch and recovery tokens of OpenBao (s./b./r.) and Vault (hvs./hvb./hvr.).
VAULT_TOKEN_SHAPE = re.compile(r"(?<![A-Za-z0-9])(?:hv)?[sbr]\.[A-Za-z0-9]{20,}")


def _jwt(subject: str) -> str:
    claims = {"sub": subject, "exp": int(time.time()) + 300}
    return jwt.encode(claims, JWT_SECRET, algorithm="HS256")


class Recorder:
    """Sends requests with a fresh X-Request-ID each, remembering id -> status."""

    def __init__(self, http: httpx.Client, sent: dict[str, int] | None = None) -> None:
        self.http = http
        self.sent: dict[str, int] = {} if sent is None else sent

    def __call__(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        request_id = f"test-{uuid.uuid4().hex}"
        headers = {**kwargs.pop("headers", {}), "X-Request-ID": request_id}
        response = self.http.request(method, url, headers=headers, **kwargs)
        assert response.headers["x-request-id"] == request_id
        self.sent[request_id] = response.status_code
        return response


def _log_lines(sidecar: SidecarProcess) -> list[dict[str, Any]]:
    lines = [line for line in sidecar.logs().splitlines() if line.strip()]
    parsed = []
    for line in lines:
        entry = json.loads(line)  # every line is one JSON object
        assert isinstance(entry, dict), line
        parsed.append(entry)
    return parsed


def _access_lines(sidecar: SidecarProcess, request_ids: set[str]) -> dict[str, dict[str, Any]]:
    """request id -> access line, once every id in `request_ids` has one (a line is written
    just after its response is sent, so the last one may trail the client by a moment)."""

    def attempt() -> dict[str, dict[str, Any]] | None:
        lines = [e for e in _log_lines(sidecar) if e["logger"] == "vault_mcp_sidecar.audit"]
        assert all(e.get("request_id") for e in lines), lines
        by_id = {e["request_id"]: e for e in lines}
        assert len(by_id) == len(lines)  # one access line per request
        return by_id if request_ids <= by_id.keys() else None

    return eventually(attempt, timeout=10)


def _lifecycle(call: Recorder, secrets: list[str]) -> None:
    """Every REST operation once, successes and failures, carrying the values in `secrets`."""
    password, api_token, note = secrets[:3]
    plaintext = base64.b64encode(note.encode()).decode()
    path = f"{unique()}/db"
    assert call("PUT", f"/secrets/{path}", json={"data": {"password": password}}).is_success
    assert call("PUT", f"/secrets/{path}", json={"data": {"token": api_token}}).is_success
    assert call("GET", f"/secrets/{path}").json()["data"] == {"token": api_token}
    assert call("GET", f"/secrets/{path}", params={"version": 1}).is_success
    conflict = call("PUT", f"/secrets/{path}", json={"data": {"password": password}, "cas": 1})
    assert conflict.status_code == 409
    invalid = call("PUT", f"/secrets/{path}", json={"data": password})
    assert invalid.status_code == 422
    assert password not in invalid.text
    assert call("GET", "/secrets", params={"prefix": ""}).is_success
    assert call("DELETE", f"/secrets/{path}").is_success
    assert call("POST", f"/secrets/{path}:undelete", json={"versions": [2]}).is_success
    assert call("POST", f"/secrets/{path}:destroy", json={"versions": [1]}).is_success
    encrypted = call("POST", "/transit/encrypt", json={"key": "logs", "plaintext": plaintext})
    ciphertext = encrypted.json()["ciphertext"]
    decrypted = call("POST", "/transit/decrypt", json={"key": "logs", "ciphertext": ciphertext})
    assert decrypted.json()["plaintext"] == plaintext
    assert call("POST", "/transit/encrypt", json={"key": "logs", "plaintext": note}).is_error
    assert call("GET", "/whoami").is_success


@pytest.mark.parametrize("child_tokens", ["false", "true"], ids=["token-reuse", "child-tokens"])
def test_debug_logs_hold_no_secret_and_one_json_line_per_request(
    openbao: OpenBao, start_sidecar: SidecarFactory, child_tokens: str
) -> None:
    sidecar = start_sidecar(LOG_LEVEL="debug", CHILD_TOKEN_ENABLED=child_tokens)
    secrets = [f"secret-value-{uuid.uuid4().hex}" for _ in range(3)]
    bad_key = f"not-a-real-key-{uuid.uuid4().hex}"
    bad_jwt = jwt.encode({"sub": "alice", "exp": int(time.time()) + 60}, "x" * 40)
    good_jwt = _jwt("alice")

    with client(sidecar, "alice") as http:
        call = Recorder(http)
        _lifecycle(call, secrets)
    with client(sidecar) as http:
        call = Recorder(http, call.sent)
        bearer = {"Authorization": f"Bearer {good_jwt}"}
        assert call("GET", "/whoami", headers=bearer).is_success
        path = f"{unique()}/jwt"
        body = {"data": {"v": secrets[0]}}
        assert call("PUT", f"/secrets/{path}", json=body, headers=bearer).is_success
        assert call("GET", "/whoami", headers={"X-API-Key": bad_key}).status_code == 401
        bad_bearer = {"Authorization": f"Bearer {bad_jwt}"}
        assert call("GET", "/whoami", headers=bad_bearer).status_code == 401

    by_id = _access_lines(sidecar, set(call.sent))  # also: every line is in the log now
    for request_id, status in call.sent.items():
        assert by_id[request_id]["status"] == status

    logs = sidecar.logs()
    forbidden = [
        *secrets,
        base64.b64encode(secrets[2].encode()).decode(),
        *KEY_OF.values(),
        bad_key,
        good_jwt,
        bad_jwt,
        good_jwt.split(".")[2],  # even the signature part alone
        openbao.token,
    ]
    leaked = [value for value in forbidden if value in logs]
    assert leaked == [], leaked
    assert VAULT_TOKEN_SHAPE.findall(logs) == []


def test_request_id_is_echoed_and_logged(start_sidecar: SidecarFactory) -> None:
    sidecar = start_sidecar(LOG_LEVEL="debug")
    with client(sidecar, "alice") as alice:
        given = alice.get("/whoami", headers={"X-Request-ID": "trace-abc.123_X"})
        generated = alice.get("/whoami")
        hostile = alice.get("/whoami", headers={"X-Request-ID": 'x" injected="1'})
        too_long = alice.get("/whoami", headers={"X-Request-ID": "a" * 65})
        unauthenticated = httpx.get(f"{sidecar.url}/whoami", headers={"X-Request-ID": "anon-1"})

    assert given.headers["x-request-id"] == "trace-abc.123_X"
    assert unauthenticated.status_code == 401
    assert unauthenticated.headers["x-request-id"] == "anon-1"
    for response in (generated, hostile, too_long):
        assert re.fullmatch(r"[0-9a-f]{32}", response.headers["x-request-id"])

    ids = {"trace-abc.123_X", "anon-1"} | {
        r.headers["x-request-id"] for r in (generated, hostile, too_long)
    }
    access = _access_lines(sidecar, ids)
    assert access["trace-abc.123_X"]["route"] == "whoami"
    assert access["trace-abc.123_X"]["agent"] == "alice"
    assert access["anon-1"]["status"] == 401
    assert "injected" not in sidecar.logs()


def test_echo_headers_is_off_by_default(sidecar: SidecarProcess) -> None:
    with client(sidecar, "alice") as alice:
        assert alice.get("/whoami").status_code == 200
        assert alice.get("/echo-headers").status_code == 404


def test_echo_headers_when_enabled_redacts_credentials(start_sidecar: SidecarFactory) -> None:
    sidecar = start_sidecar(DEBUG_ENDPOINTS_ENABLED="true")
    with client(sidecar, "alice") as alice:
        response = alice.get("/echo-headers", headers={"X-Custom": "visible"})
    assert response.status_code == 200, response.text
    echoed = response.json()
    assert echoed["x-api-key"] == "<redacted>"
    assert echoed["x-custom"] == "visible"
    assert KEY_OF["alice"] not in response.text

    token = _jwt("alice")
    with client(sidecar) as http:
        bearer = http.get("/echo-headers", headers={"Authorization": f"Bearer {token}"})
        anonymous = http.get("/echo-headers")
    assert bearer.status_code == 200
    assert bearer.json()["authorization"] == "<redacted>"
    assert token not in bearer.text
    assert anonymous.status_code == 401
    assert KEY_OF["alice"] not in sidecar.logs()
    assert token not in sidecar.logs()
