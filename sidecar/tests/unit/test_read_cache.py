"""read_cache.ReadCache and its use by the secrets routes: TTL, bound, isolation between agents,
invalidation of every version of a path, and a read in flight across a write not refilling
the cache with the old value. A fake clock and a fake Vault (unit tier); the real sidecar and
OpenBao are in tests/integration/test_read_cache.py.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from vault_mcp_sidecar.api.models import VersionsRequest, WriteSecretRequest
from vault_mcp_sidecar.api.routes import secrets
from vault_mcp_sidecar.auth.principal import AuthMode, Principal
from vault_mcp_sidecar.config import ConfigError, load_settings
from vault_mcp_sidecar.read_cache import ReadCache
from vault_mcp_sidecar.runtime import build_runtime
from vault_mcp_sidecar.scopes import ALL_SCOPES
from vault_mcp_sidecar.vault.errors import VaultUnavailable
from vault_mcp_sidecar.vault.kv import SecretNotFound

TTL = 5.0
SECRET_VALUE = "s3cr3t-value-never-shown"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def cache(max_entries: int = 100) -> tuple[ReadCache, Clock]:
    clock = Clock()
    return ReadCache(TTL, max_entries, clock), clock


def fill(rc: ReadCache, subject: str, path: str, version: int | None = None) -> dict[str, Any]:
    """Read-through as the route does it: begin, 'ask Vault', put."""
    body = {"path": path, "data": {"owner": subject, "v": version}}
    assert rc.put(rc.begin(subject, path, version), body)
    return body


# -- TTL ------------------------------------------------------------------------------------


def test_a_hit_is_the_stored_body_until_the_ttl_runs_out() -> None:
    rc, clock = cache()
    body = fill(rc, "alice", "app/db")
    clock.now += TTL - 0.001
    assert rc.get("alice", "app/db", None) is body
    clock.now += 0.001
    assert rc.get("alice", "app/db", None) is None
    assert len(rc) == 0  # an expired entry is dropped when found


def test_the_ttl_counts_from_when_the_vault_read_began() -> None:
    rc, clock = cache()
    started = rc.begin("alice", "app/db", None)
    clock.now += TTL - 1  # a slow Vault answer
    assert rc.put(started, {"data": {}})
    clock.now += 1
    assert rc.get("alice", "app/db", None) is None


def test_an_answer_older_than_the_ttl_is_not_stored() -> None:
    rc, clock = cache()
    started = rc.begin("alice", "app/db", None)
    clock.now += TTL
    assert not rc.put(started, {"data": {}})
    assert len(rc) == 0


# -- Bound ----------------------------------------------------------------------------------


def test_at_most_max_entries_least_recently_used_evicted_first() -> None:
    rc, _ = cache(max_entries=3)
    for name in ("a", "b", "c"):
        fill(rc, "alice", name)
    assert rc.get("alice", "a", None) is not None  # a is now the most recently used
    fill(rc, "alice", "d")
    assert len(rc) == 3
    assert rc.get("alice", "b", None) is None
    assert all(rc.get("alice", name, None) is not None for name in ("a", "c", "d"))


def test_eviction_keeps_the_per_path_index_consistent() -> None:
    rc, _ = cache(max_entries=2)
    fill(rc, "alice", "p", 1)
    fill(rc, "alice", "p", 2)
    fill(rc, "alice", "q")  # evicts (alice, p, 1)
    rc.invalidate("alice", "p")  # must not trip over the evicted version
    assert len(rc) == 1
    assert rc.get("alice", "q", None) is not None


def test_refilling_a_key_replaces_it_without_growing() -> None:
    rc, _ = cache(max_entries=2)
    fill(rc, "alice", "a")
    newer = fill(rc, "alice", "a")
    assert len(rc) == 1
    assert rc.get("alice", "a", None) is newer


# -- Isolation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (("alice", "app/db"), ("bob", "app/db")),  # same relative path, other agent
        (("a", "b.c"), ("a.b", "c")),  # dotted ids: joining with "." would collide
        (("a", "b/c"), ("a/b", "c")),  # joining with "/" would collide
        (("team-a.alice", "x"), ("team-a", "alice/x")),
        (("alice", "app"), ("alice", "app/")),
    ],
)
def test_no_agent_or_path_ever_gets_anothers_entry(
    first: tuple[str, str], second: tuple[str, str]
) -> None:
    rc, _ = cache()
    body = fill(rc, *first)
    assert rc.get(*second, None) is None
    other = fill(rc, *second)
    assert rc.get(*first, None) is body
    assert rc.get(*second, None) is other


def test_versions_are_separate_entries() -> None:
    rc, _ = cache()
    latest, v1 = fill(rc, "alice", "p"), fill(rc, "alice", "p", 1)
    assert rc.get("alice", "p", None) is latest
    assert rc.get("alice", "p", 1) is v1
    assert rc.get("alice", "p", 2) is None


# -- Invalidation ---------------------------------------------------------------------------


def test_invalidate_drops_every_version_of_that_path_for_that_agent_only() -> None:
    rc, _ = cache()
    for version in (None, 1, 2):
        fill(rc, "alice", "app/db", version)
    others = [("bob", "app/db"), ("alice", "app/db2"), ("alice", "app/db/x"), ("alice", "app")]
    kept = [fill(rc, subject, path) for subject, path in others]
    rc.invalidate("alice", "app/db")
    assert [rc.get("alice", "app/db", v) for v in (None, 1, 2)] == [None, None, None]
    assert [rc.get(subject, path, None) for subject, path in others] == kept
    assert len(rc) == len(others)


def test_invalidating_an_uncached_path_is_fine() -> None:
    rc, _ = cache()
    rc.invalidate("alice", "never/read")
    assert len(rc) == 0


def test_a_fill_begun_before_an_invalidation_is_dropped() -> None:
    rc, _ = cache()
    stale = rc.begin("alice", "p", None)  # read sent to Vault ...
    rc.invalidate("alice", "p")  # ... a write lands and invalidates ...
    assert not rc.put(stale, {"data": {"v": "old"}})  # ... the old answer arrives
    assert rc.get("alice", "p", None) is None
    fresh = rc.begin("alice", "p", None)
    assert rc.put(fresh, {"data": {"v": "new"}})


def test_a_fill_survives_invalidations_of_other_paths_and_agents() -> None:
    rc, _ = cache()
    started = rc.begin("alice", "p", None)
    rc.invalidate("alice", "q")
    rc.invalidate("bob", "p")
    assert rc.put(started, {"data": {}})


def test_fills_older_than_forgotten_invalidations_are_dropped() -> None:
    """Invalidation records are bounded too (by max_entries); once the one that concerns a
    fill may be forgotten, the fill is refused rather than trusted."""
    rc, _ = cache(max_entries=2)
    stale = rc.begin("alice", "p", None)
    for path in ("p", "q", "r"):  # the record for p is pushed out by the third
        rc.invalidate("alice", path)
    assert not rc.put(stale, {"data": {}})
    assert rc.put(rc.begin("alice", "p", None), {"data": {}})


def test_clear_forgets_everything_and_refuses_fills_in_flight() -> None:
    rc, _ = cache()
    fill(rc, "alice", "a")
    started = rc.begin("bob", "b", None)
    rc.clear()
    assert len(rc) == 0
    assert not rc.put(started, {"data": {}})


# -- No values shown ------------------------------------------------------------------------


def test_repr_shows_no_value() -> None:
    rc, _ = cache()
    rc.put(rc.begin("alice", "p", None), {"data": {"pw": SECRET_VALUE}})
    assert SECRET_VALUE not in repr(rc)
    assert SECRET_VALUE not in repr(rc.__dict__)  # entries included


@pytest.mark.parametrize(("ttl", "size"), [(0, 1), (-1, 1), (1, 0)])
def test_nonsense_bounds_are_refused(ttl: float, size: int) -> None:
    with pytest.raises(ValueError, match="ttl_seconds"):
        ReadCache(ttl, size)


# -- Settings and runtime -------------------------------------------------------------------

BASE = {"vault_token": "root-token", "auth_jwt_enabled": False}


def test_off_by_default() -> None:
    settings = load_settings(**BASE)
    assert settings.read_cache_enabled is False
    assert (settings.read_cache_ttl_seconds, settings.read_cache_max_entries) == (5.0, 10_000)
    assert build_runtime(settings).read_cache is None


def test_enabled_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("READ_CACHE_ENABLED", "true")
    monkeypatch.setenv("READ_CACHE_TTL_SECONDS", "0.5")
    monkeypatch.setenv("READ_CACHE_MAX_ENTRIES", "7")
    runtime = build_runtime(load_settings(**BASE))
    assert isinstance(runtime.read_cache, ReadCache)
    assert repr(runtime.read_cache) == "ReadCache(entries=0, ttl=0.5s, max=7)"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("read_cache_ttl_seconds", "0"),
        ("read_cache_ttl_seconds", "-1"),
        ("read_cache_ttl_seconds", "301"),
        ("read_cache_ttl_seconds", "soon"),
        ("read_cache_max_entries", "0"),
        ("read_cache_max_entries", "1000001"),
        ("read_cache_enabled", "perhaps"),
    ],
)
def test_bad_values_are_one_line_naming_the_variable(variable: str, value: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(**BASE, **{variable: value})
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"invalid configuration: {variable.upper()}: ")


# -- The routes' use of it ------------------------------------------------------------------

ALICE = Principal("alice", ALL_SCOPES, AuthMode.API_KEY, "key:a")
BOB = Principal("bob", ALL_SCOPES, AuthMode.API_KEY, "key:b")


class FakeKv:
    """KV v2 in a dict per (agent, path); counts the reads that reached it. `hold` makes the
    next read wait after taking its value from 'Vault', as a slow answer in flight would."""

    def __init__(self) -> None:
        self.store: dict[tuple[str, str], int] = {}
        self.reads = 0
        self.hold: asyncio.Event | None = None
        self.read_taken = asyncio.Event()
        self.outage = False

    async def read(self, token: str, subject: str, path: str, version: int | None) -> Any:
        self.reads += 1
        if (subject, path) not in self.store:
            raise SecretNotFound
        value = self.store[(subject, path)]
        self.read_taken.set()
        if self.hold is not None:
            await self.hold.wait()
        return {"data": {"v": value}, "version": value}

    async def write(self, token: str, subject: str, path: str, data: Any, cas: Any) -> Any:
        if self.outage:
            raise VaultUnavailable("timed out")  # may or may not have applied
        self.store[(subject, path)] = data["v"]
        return {"version": data["v"]}

    async def delete_latest(self, token: str, subject: str, path: str) -> None:
        self.store.pop((subject, path), None)

    async def versions_op(self, op: str, token: str, subject: str, path: str, v: Any) -> None:
        pass


class FakeRuntime:
    def __init__(self) -> None:
        self.kv = FakeKv()
        self.read_cache = ReadCache(60, 100)
        self.mints = 0

    async def token_for(self, principal: Principal) -> str:
        self.mints += 1
        return "child-token"


async def read(runtime: FakeRuntime, caller: Principal = ALICE, path: str = "p") -> Any:
    return await secrets.read(runtime, caller, path, None)  # type: ignore[arg-type]


async def write(runtime: FakeRuntime, value: int, caller: Principal = ALICE) -> None:
    body = WriteSecretRequest(data={"v": value})
    await secrets.write_secret("p", body, caller, runtime)  # type: ignore[arg-type]


async def test_a_hit_skips_the_mint_and_vault_and_is_the_same_body() -> None:
    runtime = FakeRuntime()
    await write(runtime, 1)
    first = await read(runtime)
    mints = runtime.mints
    assert await read(runtime) is first
    assert (runtime.kv.reads, runtime.mints) == (1, mints)


async def test_errors_are_not_cached() -> None:
    runtime = FakeRuntime()
    for _ in range(2):
        with pytest.raises(SecretNotFound):
            await read(runtime)
    assert runtime.kv.reads == 2
    assert len(runtime.read_cache) == 0


async def test_another_agent_reading_the_same_path_goes_to_vault() -> None:
    runtime = FakeRuntime()
    await write(runtime, 1)
    await read(runtime)
    with pytest.raises(SecretNotFound):  # bob has no secret at his own "p"
        await read(runtime, BOB)
    assert runtime.kv.reads == 2


@pytest.mark.parametrize("change", ["write", "delete", "undelete", "destroy"])
async def test_every_change_through_the_sidecar_invalidates(change: str) -> None:
    runtime = FakeRuntime()
    await write(runtime, 1)
    await read(runtime)
    rt: Any = runtime
    if change == "write":
        await write(runtime, 2)
    elif change == "delete":
        await secrets.delete_secret("p", ALICE, rt)
    else:
        route = secrets.undelete_secret if change == "undelete" else secrets.destroy_secret
        await route("p", VersionsRequest(versions=[1]), ALICE, rt)
    assert runtime.read_cache.get("alice", "p", None) is None


async def test_a_failed_write_invalidates_too() -> None:
    """A timeout may come after Vault applied the write: the cached value may be stale."""
    runtime = FakeRuntime()
    await write(runtime, 1)
    await read(runtime)
    runtime.kv.outage = True
    with pytest.raises(VaultUnavailable):
        await write(runtime, 2)
    assert runtime.read_cache.get("alice", "p", None) is None


async def test_a_read_in_flight_across_a_write_does_not_refill_the_old_value() -> None:
    runtime = FakeRuntime()
    await write(runtime, 1)
    runtime.kv.hold = asyncio.Event()
    slow_read = asyncio.create_task(read(runtime))
    await runtime.kv.read_taken.wait()  # Vault has answered "1"; the answer is on its way
    await write(runtime, 2)
    runtime.kv.hold.set()
    assert (await slow_read)["data"] == {"v": 1}  # that caller gets what Vault said then
    runtime.kv.hold = None
    assert (await read(runtime))["data"] == {"v": 2}  # the next one is not served "1"
    assert runtime.kv.reads == 2


async def test_while_vault_is_down_a_cached_entry_is_served_until_it_expires() -> None:
    """Documented (README, Read cache): the TTL bounds this staleness too."""
    runtime = FakeRuntime()
    await write(runtime, 1)
    await read(runtime)

    async def down(principal: Principal) -> str:
        raise VaultUnavailable("connection refused")

    runtime.token_for = down  # type: ignore[method-assign]
    assert (await read(runtime))["data"] == {"v": 1}
    runtime.read_cache.clear()
    with pytest.raises(VaultUnavailable):
        await read(runtime)
