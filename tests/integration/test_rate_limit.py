"""Per-agent rate limiting (seed `RATE_LIMIT_*`, DESIGN §5: 429 with Retry-After)."""

from __future__ import annotations

from devkit.openbao import OpenBao
from tests.integration.conftest import SidecarFactory
from tests.integration.vault_support import audit_paths, client

LIMIT = 3


def test_fourth_request_is_429_and_only_for_that_agent(
    openbao: OpenBao, start_sidecar: SidecarFactory
) -> None:
    sidecar = start_sidecar(
        RATE_LIMIT_ENABLED="true",
        RATE_LIMIT_REQUESTS=str(LIMIT),
        RATE_LIMIT_WINDOW_SECONDS="60",
    )
    with client(sidecar, "alice") as alice, client(sidecar, "bob") as bob:
        for _ in range(LIMIT):
            assert alice.get("/secrets", params={"prefix": ""}).status_code == 200

        before = len(openbao.audit_entries())
        limited = alice.get("/secrets", params={"prefix": ""})
        assert limited.status_code == 429, limited.text
        assert limited.json() == {"detail": "rate limit exceeded"}
        retry_after = limited.headers["Retry-After"]
        assert retry_after.isdigit()
        assert 1 <= int(retry_after) <= 60
        # Every kind of operation counts against the same budget, and none reaches Vault.
        assert alice.put("/secrets/x", json={"data": {"v": 1}}).status_code == 429
        assert (
            alice.post("/transit/encrypt", json={"key": "k", "plaintext": "aGk="}).status_code
            == 429
        )
        assert [p for p in audit_paths(openbao)[before:] if "/mcp/alice" in p] == []

        for _ in range(LIMIT):
            assert bob.get("/secrets", params={"prefix": ""}).status_code == 200
        assert bob.get("/secrets", params={"prefix": ""}).status_code == 429


def test_unauthenticated_requests_do_not_use_up_an_agents_budget(
    start_sidecar: SidecarFactory,
) -> None:
    sidecar = start_sidecar(
        RATE_LIMIT_ENABLED="true",
        RATE_LIMIT_REQUESTS=str(LIMIT),
        RATE_LIMIT_WINDOW_SECONDS="60",
    )
    with client(sidecar) as anonymous, client(sidecar, "alice") as alice:
        for _ in range(LIMIT * 2):
            assert anonymous.get("/secrets").status_code == 401
            assert anonymous.get("/secrets", headers={"X-API-Key": "x" * 20}).status_code == 401
        for _ in range(LIMIT):
            assert alice.get("/secrets").status_code == 200


def test_disabled_by_setting(start_sidecar: SidecarFactory) -> None:
    sidecar = start_sidecar(RATE_LIMIT_ENABLED="false", RATE_LIMIT_REQUESTS="1")
    with client(sidecar, "alice") as alice:
        assert all(alice.get("/secrets").status_code == 200 for _ in range(5))
