"""The smaller benches' pure parts: percentiles, import times, profiles, fleets, scaling tables,
admission payloads, sidecar modes. No server, no wrk, no timing.
"""

from __future__ import annotations

import json

import pytest

from bench import config, fleet, pods
from bench.emulator import forget
from bench.flame import (
    frame_name,
    inclusive_shares,
    only_threads,
    package,
    parse_collapsed,
    self_shares,
    share_table,
    total,
)
from bench.importtime import heaviest_packages, parse_importtime, total_ms
from bench.operator import audited
from bench.results import BATCH, CACHE, CHILD, SIDECAR
from bench.scaling_report import CHILD as FLEET_CHILD
from bench.scaling_report import (
    DIRECT,
    REUSE,
    OperatorPoint,
    SidecarPoint,
    from_record,
    operator_table,
    operator_verdicts,
    record,
    sidecar_table,
)
from bench.timing import Summary, at_least, percentile, verdict
from vault_mcp_operator.config import load_settings
from vault_mcp_operator.injection import SIDECAR_NAME, SidecarSettings, plan_injection

# -- timing ------------------------------------------------------------------------------------


def test_percentile_is_nearest_rank() -> None:
    values = list(range(1, 101))  # 1..100
    assert percentile(values, 50) == 50
    assert percentile(values, 99) == 99
    assert percentile(values, 100) == 100
    assert percentile([5.0], 99) == 5.0
    with pytest.raises(ValueError, match="no samples"):
        percentile([], 50)
    with pytest.raises(ValueError, match="percentile"):
        percentile([1.0], 0)


def test_summary_and_verdicts() -> None:
    summary = Summary.of([3.0, 1.0, 2.0, 10.0])
    assert (summary.count, summary.minimum, summary.maximum) == (4, 1.0, 10.0)
    assert summary.median == 2.5
    assert summary.p99 == 10.0
    assert summary.record()["mean"] == 4.0
    assert verdict(1.5, 1.5) == "PASS"
    assert verdict(1.51, 1.5) == "MISS"
    assert at_least(0.25, 0.25) == "PASS"
    assert at_least(0.24, 0.25) == "MISS"


# -- python -X importtime --------------------------------------------------------------------

IMPORTTIME = """\
import time: self [us] | cumulative | imported package
import time:       100 |        100 |   encodings.aliases
import time:       300 |        400 | encodings
import time:      2000 |       2000 |     pydantic.fields
import time:      1000 |       3000 |   fastapi.routing
import time:       500 |       3500 | fastapi
some other stderr line
"""


def test_importtime_sums_self_time_per_package_without_double_counting() -> None:
    lines = parse_importtime(IMPORTTIME)
    assert [line.module for line in lines][:2] == ["encodings.aliases", "encodings"]
    costs = heaviest_packages(lines, 2)
    assert [(c.package, c.self_ms, c.modules) for c in costs] == [
        ("pydantic", 2.0, 1),
        ("fastapi", 1.5, 2),
    ]
    assert total_ms(lines) == pytest.approx(3.9)


# -- py-spy collapsed stacks -----------------------------------------------------------------

COLLAPSED = """\
run (asyncio/runners.py:118);call (/v/lib/python3.11/site-packages/aiohttp/client.py:10);_write (/v/lib/python3.11/site-packages/aiohttp/http_writer.py:5) 30
run (asyncio/runners.py:118);call (/v/lib/python3.11/site-packages/aiohttp/client.py:12) 10
run (asyncio/runners.py:118);read (/w/sidecar/src/vault_mcp_sidecar/api/fast_read.py:40);dumps (/usr/lib/python3.11/json/__init__.py:231) 20
run (asyncio/runners.py:118) 40
"""  # noqa: E501 - py-spy's lines are long


def test_collapsed_stacks_give_self_and_inclusive_shares() -> None:
    stacks = parse_collapsed(COLLAPSED + "garbage line\n")
    assert len(stacks) == 4
    top = {s.name: s.fraction for s in self_shares(stacks, 10)}
    assert top["aiohttp/http_writer.py:_write"] == 0.3
    assert top["asyncio/runners.py:run"] == 0.4
    inclusive = {s.name: s.fraction for s in inclusive_shares(stacks, 10, skip=["x"])}
    assert inclusive["aiohttp/client.py:call"] == 0.4  # on two stacks, counted once each
    assert inclusive["asyncio/runners.py:run"] == 1.0
    packages = {s.name: s.fraction for s in self_shares(stacks, 10, key="package")}
    assert packages == {"asyncio": 0.4, "aiohttp": 0.4, "json": 0.2}
    assert package("read (/w/sidecar/src/vault_mcp_sidecar/api/fast_read.py:40)") == (
        "vault_mcp_sidecar"
    )
    assert frame_name("f (/x/site-packages/a/b.py:1)") == "a/b.py:f"
    assert len(only_threads(stacks, "fast_read.py")) == 1
    assert total(stacks) == 100
    table = share_table("leaf", self_shares(stacks, 1)).splitlines()
    assert table[2] == "| `asyncio/runners.py:run` | 40.0% |"


# -- the scaling bench's fleet -----------------------------------------------------------------


def test_fleet_agents_are_distinct_and_valid_sidecar_keys() -> None:
    agents = fleet.fleet(1000)
    keys = json.loads(fleet.api_keys_json(agents))
    assert len(keys) == 1000
    assert all(len(key) >= 16 for key in keys)  # the sidecar refuses shorter keys
    assert len({a.value for a in agents}) == 1000
    assert all(len(a.value) == len(config.SECRET_VALUE) for a in agents)
    assert agents[7].kv_data_path() == "secret/data/mcp/fleet-0007/k"
    direct = fleet.direct_lines(agents[:2], "tok")
    assert direct[1] == "X-Vault-Token\ttok\t/v1/secret/data/mcp/fleet-0001/k"
    assert fleet.sidecar_lines(agents[:1]) == [f"X-API-Key\t{agents[0].api_key}\t/secrets/k"]


def sidecar_point(agents: int, direct: float, reuse: float) -> SidecarPoint:
    return SidecarPoint(
        agents,
        {DIRECT: [direct, direct], REUSE: [reuse, reuse], FLEET_CHILD: [reuse / 2] * 2},
        {REUSE: 80.0, FLEET_CHILD: 81.0},
        {REUSE: 85.0, FLEET_CHILD: 86.0},
    )


def operator_point(agents: int, converge: float, resync_writes: int = 0) -> OperatorPoint:
    return OperatorPoint(
        agents, converge, 120.0, 30.0, 6 * agents, 7 * agents, agents, resync_writes
    )


def test_scaling_tables_ratios_and_verdicts() -> None:
    points = [sidecar_point(1, 4000, 2000), sidecar_point(1000, 4000, 1000)]
    table = sidecar_table(points)
    assert "| 1 | 4000 | 2000 (0.50) | 1000 (0.25) | 80 → 85 MiB | 81 → 86 MiB |" in table
    assert "| 1,000 | 4000 | 1000 (0.25) |" in table
    ops = [operator_point(10, 1.0), operator_point(1000, 59.0)]
    assert "| 1,000 | 59.0 s | 17 |" in operator_table(ops)
    assert operator_verdicts(ops)[0].startswith("PASS  1,000 VaultAgents converge")
    assert operator_verdicts(ops)[1].startswith("PASS  0 Vault writes on resync")
    late = operator_verdicts([operator_point(1000, 61.0, resync_writes=2)])
    assert late[0].startswith("MISS")
    assert late[1].startswith("MISS")


def test_scaling_record_round_trips_and_keeps_the_other_half() -> None:
    sidecar = [sidecar_point(1, 4000, 2000)]
    first = json.loads(json.dumps(record({"sidecar": {"note": "a"}}, sidecar, [])))
    second = record({"operator": {"note": "b"}}, [], [operator_point(1, 0.5)], previous=first)
    assert second["runs"] == {"sidecar": {"note": "a"}, "operator": {"note": "b"}}
    back_sidecar, back_operator = from_record(json.loads(json.dumps(second)))
    assert back_sidecar[0].ratio(REUSE) == 0.5
    assert back_operator[0].agents == 1


# -- webhook payloads --------------------------------------------------------------------------


def test_pod_kinds_are_patched_exactly_as_labelled() -> None:
    settings = load_settings(vault_addr="http://127.0.0.1:9", vault_token="t")
    sidecar = SidecarSettings.from_settings(settings)
    agent = pods.vault_agent()
    for kind, (pod, patched) in pods.POD_KINDS.items():
        result = plan_injection(pod["metadata"], pod["spec"], pods.NAMESPACE, agent, sidecar)
        assert (result is not None) == patched, kind
        if result is not None:
            assert result["initContainers"][0]["name"] == SIDECAR_NAME
            assert len(result["containers"]) == len(pod["spec"]["containers"])


def test_admission_review_carries_the_namespace_not_the_pod() -> None:
    pod = pods.plain_pod()
    review = pods.admission_review(pod, "uid-1")
    assert review["request"]["namespace"] == pods.NAMESPACE
    assert "namespace" not in review["request"]["object"]["metadata"]
    review["request"]["object"]["metadata"]["labels"]["app"] = "changed"
    assert pod["metadata"]["labels"]["app"] == "app"  # a copy: POD_KINDS stay intact


# -- sidecar modes ---------------------------------------------------------------------------


def test_the_bao_agent_gets_no_vault_or_bao_setting_from_the_shell() -> None:
    shell = {"PATH": "/usr/bin", "VAULT_TOKEN": "s.x", "bao_addr": "http://x", "HOME": "/h"}
    assert config.agent_env(shell) == {"PATH": "/usr/bin", "HOME": "/h"}


def test_sidecar_modes_set_only_their_settings() -> None:
    batch = config.sidecar_env("http://127.0.0.1:1", "tok", config.mode(BATCH))
    assert batch["CHILD_TOKEN_TYPE"] == "batch"
    assert json.loads(batch["API_KEYS_JSON"]) == {config.API_KEY: config.BATCH_AGENT_ID}
    cache = config.sidecar_env("http://127.0.0.1:1", "tok", config.mode(CACHE))
    assert (cache["READ_CACHE_ENABLED"], cache["CHILD_TOKEN_ENABLED"]) == ("true", "false")
    plain = config.sidecar_env("http://127.0.0.1:1", "tok", config.mode(SIDECAR))
    assert "CHILD_TOKEN_TYPE" not in plain
    assert "READ_CACHE_ENABLED" not in plain


def test_a_mode_needing_an_unknown_setting_is_unsupported() -> None:
    assert config.mode(CACHE).supported()  # this checkout's sidecar has the read cache
    assert not config.mode(CACHE).supported({"child_token_type": None})
    assert config.mode(CHILD).supported({})  # needs nothing beyond the basics


def test_batch_role_is_default_batch_as_the_operator_makes_it() -> None:
    role = config.token_role(config.BATCH_POLICY, "default-batch")
    assert role["allowed_policies"] == [config.BATCH_POLICY]
    assert (role["token_type"], role["orphan"]) == ("default-batch", False)


# -- the emulator's history ------------------------------------------------------------------


def test_forget_removes_by_identity_from_the_newest_end() -> None:
    a, b, c = object(), object(), object()
    history = [a, b, c, b]
    forget(history, b)
    assert history == [a, b, c]
    assert history[1] is b
    forget(history, object())  # absent: nothing happens
    assert history == [a, b, c]


# -- audit counting ----------------------------------------------------------------------------


def test_audited_counts_requests_only_and_names_the_written_paths() -> None:
    entries = [
        {"type": "request", "request": {"operation": "update", "path": "sys/policies/acl/a"}},
        {"type": "response", "request": {"operation": "update", "path": "sys/policies/acl/a"}},
        {"type": "request", "request": {"operation": "read", "path": "auth/token/lookup-self"}},
        {"type": "request", "request": {"operation": "list", "path": "auth/token/roles"}},
        {"type": "request", "request": {"operation": "delete", "path": "auth/token/roles/b"}},
    ]
    assert audited(entries) == (2, 2, ["sys/policies/acl/a", "auth/token/roles/b"])
    assert audited([]) == (0, 0, [])
