"""The bench's pure parts: wrk's report line, medians, ratios, verdicts, tables, configuration.

Run with `.venv/bin/pytest bench/tests`; no server, no wrk, no timing.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import config
from bench.output import save_json
from bench.render import RunInfo, json_record, markdown_table, text_report
from bench.results import (
    AGENT,
    AUDIT,
    BATCH,
    CACHE,
    CHILD,
    DIRECT,
    SIDECAR,
    TargetResult,
    WrkOutputError,
    WrkRun,
    added_p50_ms,
    ordered,
    parse_wrk,
    ratio,
    verdicts,
)

WRK_STDOUT = """\
Running 5s test @ http://127.0.0.1:1234/v1/secret/data/mcp/bench-agent/k
  2 threads and 16 connections
Requests/sec:   2000.00
BENCH_JSON {"requests":10000,"duration_us":5000000,"bytes":1,"errors":{"connect":0,"read":0,\
"write":0,"status":3,"timeout":1},"latency_us":{"p50":850,"p90":1200,"p99":4100,"max":9000,\
"mean":900.5}}
"""


def run(rps: float, p50_ms: float = 1.0, p99_ms: float = 5.0) -> WrkRun:
    errors = dict.fromkeys(("connect", "read", "write", "status", "timeout"), 0)
    return WrkRun(int(rps * 5), 5.0, errors, p50_ms, p50_ms * 2, p99_ms)


def target(key: str, rates: list[float], single_p50: float) -> TargetResult:
    return TargetResult(key, key, tuple(run(r) for r in rates), (run(100, single_p50),))


@pytest.fixture
def results() -> dict[str, TargetResult]:
    return {
        DIRECT: target(DIRECT, [1000, 1200, 900], 0.4),
        AGENT: target(AGENT, [500, 600, 550], 0.6),
        SIDECAR: target(SIDECAR, [650, 600, 700], 0.8),
        CHILD: target(CHILD, [200, 240, 260], 1.5),
    }


def test_parse_wrk_reads_the_lua_line() -> None:
    parsed = parse_wrk(WRK_STDOUT)
    assert parsed.requests == 10000
    assert parsed.rps == 2000.0
    assert (parsed.p50_ms, parsed.p90_ms, parsed.p99_ms) == (0.85, 1.2, 4.1)
    assert parsed.error_count == 4
    assert parsed.error_summary() == "status=3, timeout=1"


def test_parse_wrk_without_the_line_is_an_error() -> None:
    with pytest.raises(WrkOutputError, match="no BENCH_JSON line"):
        parse_wrk("Running 5s test @ http://127.0.0.1:1/\nRequests/sec: 10\n")


def test_medians_ratios_and_added_latency(results: dict[str, TargetResult]) -> None:
    assert results[DIRECT].rps == 1000
    assert results[DIRECT].rps_spread == (900, 1200)
    assert ratio(results, SIDECAR) == pytest.approx(0.65)
    assert added_p50_ms(results, SIDECAR) == pytest.approx(0.4)


def test_verdicts_pass_and_miss(results: dict[str, TargetResult]) -> None:
    found = {v.check: v for v in verdicts(results, {SIDECAR: 80.0, CHILD: 100.0})}
    assert found["sidecar/direct >= 0.50"].passed
    assert found["sidecar/direct > agent/direct"].passed
    assert not found["child-per-request/direct >= 0.25"].passed  # 0.24
    assert found["sidecar added p50 at 1 connection <= 0.5 ms"].passed
    assert found["RSS sidecar <= 96 MiB"].passed
    assert found["RSS sidecar-child <= 96 MiB"].word == "MISS"


def test_batch_and_cache_verdicts_when_measured(results: dict[str, TargetResult]) -> None:
    results[BATCH] = target(BATCH, [260, 250, 270], 1.4)
    results[CACHE] = target(CACHE, [1400, 1450, 1600], 0.3)
    results[AUDIT] = target(AUDIT, [480, 470, 490], 0.6)
    found = {v.check: v for v in verdicts(results, {})}
    assert found["batch-child-per-request/direct >= 0.25"].passed  # 0.26
    assert not found["read-cache/direct >= 1.50"].passed  # 1.45
    order = [DIRECT, AGENT, SIDECAR, AUDIT, CACHE, CHILD, BATCH]
    assert [r.key for r in ordered(results)] == order


def test_reports_name_every_target(results: dict[str, TargetResult]) -> None:
    info = RunInfo(16, 2, 3, 5, 2, "wrk 4.1.0", "OpenBao v2.7.2", "GET", 0.1, "commit abc1234")
    rss = {SIDECAR: 80.0, CHILD: 81.0}
    found = verdicts(results, rss)
    text = text_report(info, results, rss, found)
    table = markdown_table(results, rss)
    record = json.loads(json.dumps(json_record(info, results, rss, found)))
    for key in (DIRECT, AGENT, SIDECAR, CHILD):
        assert key in text
        assert f"| {key} |" in table
        assert len(record["targets"][key]["runs"]) == 3
    assert "MISS  child-per-request/direct >= 0.25" in text


def test_sidecar_env_pins_the_measured_setup() -> None:
    env = config.sidecar_env("http://127.0.0.1:1", "tok", config.mode(CHILD))
    assert env["CHILD_TOKEN_ENABLED"] == "true"
    assert env["RATE_LIMIT_ENABLED"] == "false"
    assert json.loads(env["API_KEYS_JSON"]) == {config.API_KEY: config.AGENT_ID}


def test_agent_config_listens_on_loopback_only() -> None:
    hcl = config.agent_config_hcl("http://127.0.0.1:1", "/tmp/t", 4321)
    assert 'address     = "127.0.0.1:4321"' in hcl
    assert "use_auto_auth_token = true" in hcl


# -- saved records -----------------------------------------------------------------------------


def test_save_json_creates_the_directory_and_says_where(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "new" / "record.json"
    save_json(path, {"samples": [1, 2]})
    assert json.loads(path.read_text()) == {"samples": [1, 2]}
    assert str(path) in capsys.readouterr().out
    save_json(path, {"samples": [1, 2]}, indent=None)  # long sample lists: one line
    assert path.read_text() == '{"samples": [1, 2]}\n'
