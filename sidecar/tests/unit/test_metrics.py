"""metrics.SidecarMetrics and what feeds it: Vault calls (classed into a few operations, timed,
their request ids collected), child-token mints and rate-limit refusals.

Vault here is `fake_vault`, a small server answering like OpenBao (unit tier); the real OpenBao runs
in tests/integration/test_observability.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from devkit.ports import free_port
from sidecar.tests.unit.fake_vault import FakeVault, serving
from vault_mcp_sidecar.logs import CallNotes, call_notes_var, request_id_var
from vault_mcp_sidecar.metrics import MINT_OUTCOMES, SidecarMetrics
from vault_mcp_sidecar.ratelimit import AgentRateLimiter, RateLimited
from vault_mcp_sidecar.vault.child_tokens import ChildTokenMinter
from vault_mcp_sidecar.vault.client import VaultClient, vault_operation
from vault_mcp_sidecar.vault.errors import MintRefused, VaultError, VaultUnavailable


def sample(metrics: SidecarMetrics, name: str, **labels: str) -> float:
    value = metrics.registry.get_sample_value(name, labels)
    return 0.0 if value is None else value


# -- SidecarMetrics ---------------------------------------------------------------------------


def test_requests_are_counted_and_timed_by_their_labels() -> None:
    metrics = SidecarMetrics()
    metrics.request("rest", "read_secret", "GET", 200, "alice", 0.002)
    metrics.request("rest", "read_secret", "GET", 200, "alice", 0.004)
    metrics.request("rest", "read_secret", "GET", 404, "alice", 0.001)
    metrics.request("mcp", "read_secret", "GET", 200, "bob", 0.003)

    labels = {"channel": "rest", "route": "read_secret", "method": "GET", "agent": "alice"}
    assert sample(metrics, "vaultmcp_sidecar_requests_total", **labels, status="200") == 2
    assert sample(metrics, "vaultmcp_sidecar_requests_total", **labels, status="404") == 1
    mcp = {"channel": "mcp", "route": "read_secret", "method": "GET", "agent": "bob"}
    assert sample(metrics, "vaultmcp_sidecar_requests_total", **mcp, status="200") == 1
    duration = "vaultmcp_sidecar_request_duration_seconds"
    rest = {"channel": "rest", "route": "read_secret"}
    assert sample(metrics, f"{duration}_count", **rest) == 3
    assert sample(metrics, f"{duration}_sum", **rest) == pytest.approx(0.007)
    assert sample(metrics, f"{duration}_bucket", **rest, le="0.0025") == 2


def test_histogram_buckets_are_cumulative_and_include_their_bound() -> None:
    metrics = SidecarMetrics()
    for seconds in (0.0005, 0.0006, 0.001, 11.0):  # on a bound, between, on, above the last
        metrics.vault_call("kv_read", seconds, unavailable=False)
    name = "vaultmcp_sidecar_vault_request_duration_seconds"

    def bucket(le: str) -> float:
        return sample(metrics, f"{name}_bucket", operation="kv_read", le=le)

    assert [bucket(le) for le in ("0.0005", "0.001", "10.0", "+Inf")] == [1, 3, 3, 4]
    assert sample(metrics, f"{name}_count", operation="kv_read") == 4
    assert sample(metrics, f"{name}_sum", operation="kv_read") == pytest.approx(11.0021)


def test_each_instance_has_its_own_registry() -> None:
    first, second = SidecarMetrics(), SidecarMetrics()  # no "Duplicated timeseries" error
    first.rate_limited("alice")
    assert sample(first, "vaultmcp_sidecar_rate_limited_total", agent="alice") == 1
    assert sample(second, "vaultmcp_sidecar_rate_limited_total", agent="alice") == 0
    registry = CollectorRegistry()
    assert SidecarMetrics(registry).registry is registry


def test_mint_outcomes_start_at_zero_and_are_a_closed_set() -> None:
    metrics = SidecarMetrics()
    for outcome in MINT_OUTCOMES:
        assert (
            metrics.registry.get_sample_value(
                "vaultmcp_sidecar_token_mints_total", {"outcome": outcome}
            )
            == 0
        )
    metrics.token_mint("ok")
    assert sample(metrics, "vaultmcp_sidecar_token_mints_total", outcome="ok") == 1
    with pytest.raises(KeyError):
        metrics.token_mint("something else")


def test_vault_calls_and_outages() -> None:
    metrics = SidecarMetrics()
    metrics.vault_call("kv_read", 0.001, unavailable=False)
    metrics.vault_call("kv_read", 0.2, unavailable=True)
    name = "vaultmcp_sidecar_vault_request_duration_seconds"
    assert sample(metrics, f"{name}_count", operation="kv_read") == 2
    assert sample(metrics, "vaultmcp_sidecar_vault_unavailable_total", operation="kv_read") == 1


def test_exposition_is_prometheus_text() -> None:
    metrics = SidecarMetrics()
    metrics.request("rest", "whoami", "GET", 401, "", 0.001)
    metrics.transport("POST", 200)
    families = {f.name for f in text_string_to_metric_families(metrics.exposition().decode())}
    assert {
        "vaultmcp_sidecar_requests",
        "vaultmcp_sidecar_request_duration_seconds",
        "vaultmcp_sidecar_mcp_transport_requests",
        "vaultmcp_sidecar_vault_request_duration_seconds",
        "vaultmcp_sidecar_vault_unavailable",
        "vaultmcp_sidecar_token_mints",
        "vaultmcp_sidecar_rate_limited",
    } <= families


# -- vault_operation: a bounded label, never a path -------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "operation"),
    [
        ("GET", "secret/data/mcp/alice/app/db", "kv_read"),
        ("POST", "secret/data/mcp/alice/app/db", "kv_write"),
        ("DELETE", "secret/data/mcp/alice/app/db", "kv_delete"),
        ("LIST", "secret/metadata/mcp/alice/app/", "kv_list"),
        ("POST", "secret/undelete/mcp/alice/app/db", "kv_undelete"),
        ("POST", "secret/destroy/mcp/alice/app/db", "kv_destroy"),
        ("POST", "team/kv/data/mcp/alice/x", "kv_write"),  # a mount of two segments
        ("GET", "secret/data/mcp/alice/encrypt/decrypt", "kv_read"),  # names are not looked at
        ("POST", "transit/encrypt/mcp-alice-k", "transit_encrypt"),
        ("POST", "transit/decrypt/mcp-alice-k", "transit_decrypt"),
        ("POST", "auth/token/create/mcp-agent-alice", "token_create"),
        ("POST", "auth/token/create", "token_create"),
        ("POST", "auth/token/renew-self", "renew"),
        ("GET", "auth/token/lookup-self", "lookup"),
        ("POST", "auth/approle/login", "login"),
        ("POST", "auth/kubernetes/login", "login"),
        ("GET", "sys/health", "other"),
        ("PATCH", "secret/data/mcp/alice/x", "other"),
        ("GET", "auth/token/accessors", "other"),
    ],
)
def test_vault_operation(method: str, path: str, operation: str) -> None:
    assert vault_operation(method, path) == operation


# -- VaultClient: observer, request ids, X-Request-Id -----------------------------------------


@pytest.fixture
async def vault() -> AsyncIterator[FakeVault]:
    async with serving() as fake:
        yield fake


async def started_client(addr: str, observed: list[tuple[str, float, bool]]) -> VaultClient:
    client = VaultClient(addr, observer=lambda *call: observed.append(call))
    await client.start()
    return client


async def test_every_call_is_observed_with_its_operation(vault: FakeVault) -> None:
    observed: list[tuple[str, float, bool]] = []
    client = await started_client(vault.addr, observed)
    try:
        await client.call("GET", "secret/data/mcp/alice/x", "t")
        with pytest.raises(VaultError):
            await client.call("GET", "missing/data/mcp/alice/x", "t")
        with pytest.raises(VaultUnavailable):
            await client.call("POST", "sealed/data/mcp/alice/x", "t", body={"data": {}})
        with pytest.raises(VaultUnavailable):
            await client.call("GET", "standby/metadata/mcp/alice/", "t")
    finally:
        await client.close()
    assert [(op, unavailable) for op, _, unavailable in observed] == [
        ("kv_read", False),
        ("kv_read", False),
        ("kv_write", True),
        ("kv_metadata", True),
    ]
    assert all(seconds >= 0 for _, seconds, _ in observed)


async def test_an_unreachable_vault_is_observed_as_unavailable() -> None:
    observed: list[tuple[str, float, bool]] = []
    client = await started_client(f"http://127.0.0.1:{free_port()}", observed)
    try:
        with pytest.raises(VaultUnavailable):
            await client.call("POST", "auth/approle/login", None, body={})
    finally:
        await client.close()
    assert [(op, unavailable) for op, _, unavailable in observed] == [("login", True)]


async def test_request_ids_are_collected_for_the_current_call(
    vault: FakeVault,
) -> None:
    client = await started_client(vault.addr, [])
    notes = CallNotes()
    notes_token, id_token = call_notes_var.set(notes), request_id_var.set("req-42")
    try:
        await client.call("POST", "auth/token/create/r", "t", body={})
        await client.call("GET", "secret/data/mcp/alice/x", "t")
        await client.call("DELETE", "secret/data/mcp/alice/x", "t")  # 204: no id to note
        with pytest.raises(VaultError):
            await client.call("GET", "missing/data/x", "t")  # errors carry none either
    finally:
        call_notes_var.reset(notes_token)
        request_id_var.reset(id_token)
    await client.call("GET", "secret/data/mcp/alice/x", "t")  # outside a call: not noted
    await client.close()

    assert notes.vault_request_ids == ["vault-req-1", "vault-req-2"]
    # Every call made for the request told Vault its id (for Vault's own audit log).
    assert vault.seen_request_ids == ["req-42"] * 4 + [None]


# -- ChildTokenMinter and AgentRateLimiter tell their observers --------------------------------


class ScriptedVault:
    """A VaultClient stand-in: each call returns or raises the next scripted answer."""

    def __init__(self, *answers: dict[str, Any] | Exception) -> None:
        self.answers = list(answers)

    async def call(self, method: str, path: str, token: str | None, **_: Any) -> dict[str, Any]:
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def minter(vault: ScriptedVault, outcomes: list[str]) -> ChildTokenMinter:
    return ChildTokenMinter(
        vault,  # type: ignore[arg-type]  # duck-typed stand-in
        policy_prefix="mcp-agent-",
        ttl="60s",
        on_mint=outcomes.append,
    )


MINTED = {"auth": {"client_token": "child"}}


@pytest.mark.parametrize(
    ("answers", "outcome", "raised"),
    [
        ((MINTED,), "ok", None),
        ((VaultError(403), VaultError(403)), "refused", MintRefused),
        ((VaultUnavailable("sealed"),), "unavailable", VaultUnavailable),
        ((VaultError(500),), "error", VaultError),
        (({"auth": None},), "error", TypeError),  # a malformed answer is an error too
    ],
    ids=["ok", "refused", "unavailable", "vault-error", "malformed"],
)
async def test_each_mint_reports_one_outcome(
    answers: tuple[dict[str, Any] | Exception, ...], outcome: str, raised: type[Exception] | None
) -> None:
    outcomes: list[str] = []
    child_minter = minter(ScriptedVault(*answers), outcomes)
    if raised is None:
        assert await child_minter.mint("parent", "alice") == "child"
    else:
        with pytest.raises(raised):
            await child_minter.mint("parent", "alice")
    assert outcomes == [outcome]


def test_rate_limiter_reports_each_refusal_with_the_agent() -> None:
    limited: list[str] = []
    limiter = AgentRateLimiter(1, 3600, on_limited=limited.append)
    limiter.hit("alice")
    limiter.hit("bob")
    for _ in range(2):
        with pytest.raises(RateLimited):
            limiter.hit("alice")
    assert limited == ["alice", "alice"]
