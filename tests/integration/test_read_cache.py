"""The optional per-agent read cache (`READ_CACHE_*`) against real OpenBao and real sidecars.

What reaches Vault is read from OpenBao's own audit log, not from the sidecar: with the cache
on, a repeated read makes no Vault request (and mints no child token); a write, delete,
undelete or destroy through the sidecar — REST or MCP tool — makes the next read go to Vault
again; one agent never gets another's entry; a change made directly in Vault shows once the
TTL has run out; authentication, scopes and the rate limit still hold for cached reads; and
with the cache off (the default) every read reaches Vault.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from devkit.openbao import OpenBao
from devkit.sidecar import SidecarProcess
from tests.integration.conftest import API_KEYS, SidecarFactory, sidecar_env
from tests.integration.mcp_helpers import IGNORE_DEPRECATION, json_of, mcp_session
from tests.integration.vault_support import KEY_OF, client, eventually, unique

# Long enough that nothing in a test outlives it, so a stale answer below proves a cache hit.
LONG_TTL = "300"
SECRET_VALUE = "cached-s3cr3t-value"


@pytest.fixture(scope="module")
def cached(openbao: OpenBao) -> Iterator[SidecarProcess]:
    env = sidecar_env(openbao, READ_CACHE_ENABLED="true", READ_CACHE_TTL_SECONDS=LONG_TTL)
    with SidecarProcess(env) as process:
        yield process


def kv_data(agent: str, path: str) -> str:
    return f"secret/data/mcp/{agent}/{path}"


def vault_requests(bao: OpenBao, since: int, path: str, operation: str | None = None) -> int:
    """How many requests for `path` OpenBao's audit log holds after entry `since`."""
    return sum(
        1
        for entry in bao.audit_entries()[since:]
        if entry.get("type") == "request"
        and entry["request"].get("path") == path
        and operation in (None, entry["request"].get("operation"))
    )


def write_directly(bao: OpenBao, agent: str, path: str, data: dict[str, Any]) -> None:
    """A change made outside the sidecar (an operator, another replica)."""
    bao.api("POST", kv_data(agent, path), {"data": data})


def value_of(response: httpx.Response) -> Any:
    assert response.status_code == 200, response.text
    return response.json()["data"]["v"]


# -- Served without Vault -------------------------------------------------------------------


def test_a_repeated_read_is_answered_without_vault(
    openbao: OpenBao, cached: SidecarProcess
) -> None:
    path = unique("hit")
    with client(cached, "alice") as alice:
        assert alice.put(f"/secrets/{path}", json={"data": {"v": SECRET_VALUE}}).status_code == 200
        before = len(openbao.audit_entries())
        first = alice.get(f"/secrets/{path}")
        again = [alice.get(f"/secrets/{path}") for _ in range(3)]
        version = alice.get(f"/secrets/{path}", params={"version": "1"})
        version_again = alice.get(f"/secrets/{path}", params={"version": "1"})
    assert first.status_code == 200
    assert all(r.status_code == 200 and r.content == first.content for r in again)
    assert version_again.content == version.content
    # One Vault read for "latest", one for version 1; the repeats never reached it.
    assert vault_requests(openbao, before, kv_data("alice", path), "read") == 2
    assert SECRET_VALUE not in cached.logs()


def test_with_child_tokens_a_cached_read_mints_nothing(
    openbao: OpenBao, start_sidecar: SidecarFactory
) -> None:
    sidecar = start_sidecar(
        CHILD_TOKEN_ENABLED="true", READ_CACHE_ENABLED="true", READ_CACHE_TTL_SECONDS=LONG_TTL
    )
    path = unique("mint")
    with client(sidecar, "alice") as alice:
        assert alice.put(f"/secrets/{path}", json={"data": {"v": 1}}).status_code == 200
        assert value_of(alice.get(f"/secrets/{path}")) == 1
        before = len(openbao.audit_entries())
        assert [value_of(alice.get(f"/secrets/{path}")) for _ in range(3)] == [1, 1, 1]
    assert openbao.audit_entries()[before:] == []


def test_off_by_default_every_read_reaches_vault(openbao: OpenBao, sidecar: SidecarProcess) -> None:
    path = unique("off")
    with client(sidecar, "alice") as alice:
        assert alice.put(f"/secrets/{path}", json={"data": {"v": 1}}).status_code == 200
        before = len(openbao.audit_entries())
        for _ in range(3):
            assert value_of(alice.get(f"/secrets/{path}")) == 1
        write_directly(openbao, "alice", path, {"v": 2})
        assert value_of(alice.get(f"/secrets/{path}")) == 2  # seen at once
    assert vault_requests(openbao, before, kv_data("alice", path), "read") == 4


# -- Invalidated by changes through the sidecar ---------------------------------------------


def cache_then_change_behind_its_back(bao: OpenBao, alice: httpx.Client, path: str) -> None:
    """v1 cached; v2 written directly in Vault and (proof that the cache is in use) not seen."""
    assert alice.put(f"/secrets/{path}", json={"data": {"v": 1}}).status_code == 200
    assert value_of(alice.get(f"/secrets/{path}")) == 1
    write_directly(bao, "alice", path, {"v": 2})
    assert value_of(alice.get(f"/secrets/{path}")) == 1


def test_a_rest_write_invalidates(openbao: OpenBao, cached: SidecarProcess) -> None:
    path = unique("write")
    with client(cached, "alice") as alice:
        cache_then_change_behind_its_back(openbao, alice, path)
        assert alice.put(f"/secrets/{path}", json={"data": {"v": 3}}).status_code == 200
        assert value_of(alice.get(f"/secrets/{path}")) == 3


def test_a_rest_delete_and_undelete_invalidate(openbao: OpenBao, cached: SidecarProcess) -> None:
    path = unique("delete")
    with client(cached, "alice") as alice:
        cache_then_change_behind_its_back(openbao, alice, path)
        assert alice.delete(f"/secrets/{path}").status_code == 200
        assert alice.get(f"/secrets/{path}").status_code == 404
        undelete = alice.post(f"/secrets/{path}:undelete", json={"versions": [2]})
        assert undelete.status_code == 200
        assert value_of(alice.get(f"/secrets/{path}")) == 2


def test_a_rest_destroy_invalidates_every_cached_version(
    openbao: OpenBao, cached: SidecarProcess
) -> None:
    path = unique("destroy")
    with client(cached, "alice") as alice:
        cache_then_change_behind_its_back(openbao, alice, path)
        assert value_of(alice.get(f"/secrets/{path}", params={"version": "1"})) == 1
        destroyed = alice.post(f"/secrets/{path}:destroy", json={"versions": [1, 2]})
        assert destroyed.status_code == 200
        assert alice.get(f"/secrets/{path}", params={"version": "1"}).status_code == 404
        assert alice.get(f"/secrets/{path}").status_code == 404


def test_a_failed_cas_write_still_leaves_no_stale_entry(
    openbao: OpenBao, cached: SidecarProcess
) -> None:
    """Any change attempt invalidates: after a refused one the next read asks Vault again."""
    path = unique("cas")
    with client(cached, "alice") as alice:
        cache_then_change_behind_its_back(openbao, alice, path)
        refused = alice.put(f"/secrets/{path}", json={"data": {"v": 9}, "cas": 1})
        assert refused.status_code == 409
        assert value_of(alice.get(f"/secrets/{path}")) == 2


@pytest.mark.filterwarnings(IGNORE_DEPRECATION)
async def test_mcp_tools_share_the_cache_and_a_tool_write_invalidates(
    openbao: OpenBao, cached: SidecarProcess
) -> None:
    path = unique("mcp")
    headers = {"X-API-Key": KEY_OF["alice"]}
    async with httpx.AsyncClient(base_url=cached.url, headers=headers) as alice:
        assert (await alice.put(f"/secrets/{path}", json={"data": {"v": 1}})).status_code == 200
        assert value_of(await alice.get(f"/secrets/{path}")) == 1
        before = len(openbao.audit_entries())
        async with mcp_session(cached.url, headers) as session:
            through_tool = json_of(await session.call_tool("read_secret", {"path": path}))
            assert vault_requests(openbao, before, kv_data("alice", path)) == 0
            json_of(await session.call_tool("write_secret", {"path": path, "data": {"v": 2}}))
        assert through_tool["data"] == {"v": 1}
        assert value_of(await alice.get(f"/secrets/{path}")) == 2


# -- Isolation ------------------------------------------------------------------------------


def test_an_agent_never_gets_anothers_entry(openbao: OpenBao, cached: SidecarProcess) -> None:
    shared, alice_only = unique("same-name"), unique("alice-only")
    with client(cached, "alice") as alice, client(cached, "bob") as bob:
        assert alice.put(f"/secrets/{shared}", json={"data": {"v": "alice"}}).status_code == 200
        assert alice.put(f"/secrets/{alice_only}", json={"data": {"v": 1}}).status_code == 200
        assert bob.put(f"/secrets/{shared}", json={"data": {"v": "bob"}}).status_code == 200
        for _ in range(2):  # the second round is served from the cache, each its own
            assert value_of(alice.get(f"/secrets/{shared}")) == "alice"
            assert value_of(bob.get(f"/secrets/{shared}")) == "bob"
            assert value_of(alice.get(f"/secrets/{alice_only}")) == 1
            assert bob.get(f"/secrets/{alice_only}").status_code == 404
        # bob's write to his own "same-name" leaves alice's cached entry alone
        before = len(openbao.audit_entries())
        assert bob.put(f"/secrets/{shared}", json={"data": {"v": "bob2"}}).status_code == 200
        assert value_of(alice.get(f"/secrets/{shared}")) == "alice"
    assert vault_requests(openbao, before, kv_data("alice", shared)) == 0


# -- Staleness is bounded by the TTL --------------------------------------------------------


def test_a_change_made_directly_in_vault_shows_after_the_ttl(
    openbao: OpenBao, start_sidecar: SidecarFactory
) -> None:
    sidecar = start_sidecar(READ_CACHE_ENABLED="true", READ_CACHE_TTL_SECONDS="1")
    path = unique("ttl")
    with client(sidecar, "alice") as alice:
        assert alice.put(f"/secrets/{path}", json={"data": {"v": 1}}).status_code == 200
        assert value_of(alice.get(f"/secrets/{path}")) == 1
        write_directly(openbao, "alice", path, {"v": 2})
        # Polling, not timing: the value must turn up once the 1 s entry has expired (the
        # long-TTL tests above show that without expiry it would not).
        eventually(lambda: value_of(alice.get(f"/secrets/{path}")) == 2 or None, timeout=10)


# -- Authentication, scopes and the rate limit still apply ---------------------------------

WRITE_ONLY_KEY = "alice-write-only-key-0123456789"
LIMIT = 5


def test_cached_reads_are_still_authenticated_scoped_and_rate_limited(
    openbao: OpenBao, start_sidecar: SidecarFactory
) -> None:
    keys: dict[str, Any] = {**API_KEYS, WRITE_ONLY_KEY: {"agent": "alice", "scopes": ["write"]}}
    sidecar = start_sidecar(
        API_KEYS_JSON=json.dumps(keys),
        READ_CACHE_ENABLED="true",
        READ_CACHE_TTL_SECONDS=LONG_TTL,
        RATE_LIMIT_ENABLED="true",
        RATE_LIMIT_REQUESTS=str(LIMIT),
        RATE_LIMIT_WINDOW_SECONDS="60",
    )
    path = unique("guarded")
    url = f"/secrets/{path}"
    with client(sidecar, "alice") as alice, client(sidecar) as anyone:
        assert alice.put(url, json={"data": {"v": 1}}).status_code == 200  # request 1
        assert value_of(alice.get(url)) == 1  # 2: fills the cache
        before = len(openbao.audit_entries())
        assert anyone.get(url).status_code == 401
        assert anyone.get(url, headers={"X-API-Key": "x" * 24}).status_code == 401
        assert anyone.get(url, headers={"X-API-Key": WRITE_ONLY_KEY}).status_code == 403
        assert [value_of(alice.get(url)) for _ in range(LIMIT - 2)] == [1] * (LIMIT - 2)
        limited = alice.get(url)
    assert limited.status_code == 429
    assert int(limited.headers["Retry-After"]) >= 1
    assert vault_requests(openbao, before, kv_data("alice", path)) == 0
