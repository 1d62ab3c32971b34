"""OpenBao restarted under write load (issue 5): while it is down every write is a 503 with
`Retry-After`, the sidecar takes writes again within 2 s of OpenBao being active, and every
write it acknowledged is there afterwards, exactly as written.

Two real sidecars, one per mode (token reuse; a child token per request), against one OpenBao
on raft storage; each gets four writers, each on its own connection, writing fresh paths with
known values back to back while OpenBao is stopped, left down, and started again. Both
sidecars go through the same outages, as the sidecars of many pods share one Vault.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import ExitStack, asynccontextmanager
from dataclasses import dataclass, field

import httpx

from devkit.openbao import OpenBao
from devkit.sidecar import SidecarProcess
from tests.adversarial.faults.conftest import LONG_RUN
from tests.adversarial.faults.load import Answer, path_of, read_back, run_load, unique_writes
from tests.integration.conftest import sidecar_env
from tests.integration.vault_support import key_headers, unique

MODES = {"token-reuse": "false", "child-tokens": "true"}
# Each round takes OpenBao down one way: SIGTERM (a rolling restart) or SIGKILL (a crash, where
# only what raft had committed survives). The default run does one of each.
WAYS = ("stop", "kill")
ROUNDS = 8 if LONG_RUN else 2
WARM_SECONDS = 0.5  # load before each stop, so writes are in flight when OpenBao goes
DOWN_SECONDS = 1.5  # how long OpenBao stays down while the load goes on
AFTER_SECONDS = 0.3  # load after recovery, so the sidecars are seen to keep succeeding
# The functional bound: a sidecar must take writes again within 2 s of OpenBao being
# active. This is a requirement on behaviour, not a benchmark: a sidecar holding on to dead
# keep-alive connections, a parent token it wrongly thinks is gone, or a back-off of its own
# would go on answering 503 for as long as that state lasts (seconds to minutes) after Vault
# is back, and callers would see an outage Vault no longer has. Measured here at a few
# hundredths of a second (docs/RELIABILITY.md), so the bound holds on a loaded 2-core machine.
RECOVERY_BOUND_SECONDS = 2.0
# How long to wait for a success before calling recovery failed (then the assertion on the
# bound reports the failure).
GIVE_UP_SECONDS = 15.0
ALICE_DATA = "secret/data/mcp/alice"


@dataclass
class Traffic:
    """One sidecar under load and everything it answered."""

    mode: str
    sidecar: SidecarProcess
    folder: str = field(default_factory=lambda: unique("restart"))
    answers: list[Answer] = field(default_factory=list)

    def first_success_after(self, since: float) -> float | None:
        done = [a.ended for a in self.answers if a.ok and a.started > since]
        return min(done) if done else None


@dataclass(frozen=True)
class Outage:
    way: str  # "stop" or "kill"
    stopped: float  # monotonic time OpenBao's process was gone
    active: float  # monotonic time devkit saw OpenBao active (unsealed, leader) again
    first_ok: dict[str, float | None]  # per mode: when a write sent after the stop succeeded

    def recovery(self, mode: str) -> float | None:
        first = self.first_ok[mode]
        return None if first is None else round(first - self.active, 3)


async def test_restart_under_write_load(durable_bao: OpenBao) -> None:
    bao = durable_bao
    async with _sidecars(bao) as traffic:
        stop = asyncio.Event()
        loads = [
            asyncio.create_task(
                run_load(
                    t.sidecar.url, key_headers("alice"), unique_writes(t.folder), stop, t.answers
                )
            )
            for t in traffic
        ]
        try:
            outages = [await _outage(bao, traffic, WAYS[i % 2]) for i in range(ROUNDS)]
        finally:
            stop.set()
            await asyncio.gather(*loads)
        for t in traffic:
            _assert_answers_well_formed(t)
            _assert_recovered(t, outages)
            await _assert_all_readable(t, bao)
            await _assert_unacknowledged_intact(t, bao, outages)
    print(
        "recovery (s):",
        {t.mode: [(o.way, o.recovery(t.mode)) for o in outages] for t in traffic},
        "writes:",
        {t.mode: len(t.answers) for t in traffic},
    )


@asynccontextmanager
async def _sidecars(bao: OpenBao) -> AsyncIterator[list[Traffic]]:
    """One sidecar per mode, started side by side."""
    with ExitStack() as stack:
        traffic = []
        for mode, child_tokens in MODES.items():
            sidecar = SidecarProcess(sidecar_env(bao, CHILD_TOKEN_ENABLED=child_tokens))
            stack.callback(sidecar.__exit__)
            traffic.append(Traffic(mode, sidecar))
        await asyncio.gather(*(asyncio.to_thread(t.sidecar.start) for t in traffic))
        yield traffic


async def _outage(bao: OpenBao, traffic: list[Traffic], way: str) -> Outage:
    """Take OpenBao down under the running load, keep it down, start it; wait until every
    sidecar has acknowledged a write sent after the stop (or give up)."""
    await asyncio.sleep(WARM_SECONDS)
    await asyncio.to_thread(bao.stop if way == "stop" else bao.kill)
    stopped = time.monotonic()
    await asyncio.sleep(DOWN_SECONDS)
    await asyncio.to_thread(bao.start)  # returns once sys/health says active
    active = time.monotonic()
    deadline = active + GIVE_UP_SECONDS
    while time.monotonic() < deadline:
        if all(t.first_success_after(stopped) is not None for t in traffic):
            break
        await asyncio.sleep(0.02)
    await asyncio.sleep(AFTER_SECONDS)
    return Outage(way, stopped, active, {t.mode: t.first_success_after(stopped) for t in traffic})


def _assert_answers_well_formed(traffic: Traffic) -> None:
    """Only 200 or 503; a 503 says when to retry and why, in JSON; nothing hung."""
    logs = traffic.sidecar.logs()[-3000:]
    for answer in traffic.answers:
        assert answer.status in (200, 503), (traffic.mode, answer, logs)
        if answer.status == 503:
            assert answer.retry_after is not None, answer
            assert int(answer.retry_after) >= 1, answer
            assert isinstance(answer.body, dict), answer
            assert isinstance(answer.body.get("detail"), str), answer
        else:
            assert answer.body["version"] == 1, answer  # a fresh path: its first version


def _assert_recovered(traffic: Traffic, outages: list[Outage]) -> None:
    for outage in outages:
        during = [a for a in traffic.answers if outage.stopped < a.started < outage.active]
        assert any(a.status == 503 for a in during), (traffic.mode, "outage never seen")
        recovery = outage.recovery(traffic.mode)
        assert recovery is not None, (traffic.mode, outage, "no write succeeded after it")
        assert recovery <= RECOVERY_BOUND_SECONDS, (
            traffic.mode,
            outage,
            traffic.sidecar.logs()[-3000:],
        )
    acknowledged = [a for a in traffic.answers if a.ok]
    assert len(acknowledged) > 10 * len(outages), traffic.mode  # it really wrote throughout


async def _assert_all_readable(traffic: Traffic, bao: OpenBao) -> None:
    """Every acknowledged write reads back exactly, through the sidecar and from OpenBao."""
    expected = {path_of(a): a.value for a in traffic.answers if a.ok}
    via_sidecar, direct = await asyncio.gather(
        read_back(traffic.sidecar.url, key_headers("alice"), [f"/secrets/{p}" for p in expected]),
        read_back(_vault_url(bao), _root(bao), [f"{ALICE_DATA}/{p}" for p in expected]),
    )
    lost = [
        (
            path,
            via_sidecar[f"/secrets/{path}"].status_code,
            direct[f"{ALICE_DATA}/{path}"].status_code,
        )
        for path, value in expected.items()
        if not _sidecar_holds(via_sidecar[f"/secrets/{path}"], value)
        or not _vault_holds(direct[f"{ALICE_DATA}/{path}"], value)
    ]
    assert not lost, f"{traffic.mode}: {len(lost)} of {len(expected)} lost: {lost[:5]}"


async def _assert_unacknowledged_intact(
    traffic: Traffic, bao: OpenBao, outages: list[Outage]
) -> None:
    """A write in flight when OpenBao went may or may not have been committed, but if it was,
    it holds exactly what was sent: never a torn or foreign value. (Writes refused while
    OpenBao was down never reached it: the connection was refused or Vault was sealed.)"""
    while_down = [(o.stopped, o.active) for o in outages]
    suspects = [
        a
        for a in traffic.answers
        if not a.ok and not any(start < a.started < end for start, end in while_down)
    ]
    paths = [f"{ALICE_DATA}/{path_of(a)}" for a in suspects]
    direct = await read_back(_vault_url(bao), _root(bao), paths)
    for answer in suspects:
        response = direct[f"{ALICE_DATA}/{path_of(answer)}"]
        if response.status_code != 404:
            assert _vault_holds(response, answer.value), (answer, response.status_code)


def _vault_url(bao: OpenBao) -> str:
    return f"{bao.addr}/v1/"


def _root(bao: OpenBao) -> dict[str, str]:
    return {"X-Vault-Token": bao.token}


def _sidecar_holds(response: httpx.Response, value: str | None) -> bool:
    body = response.json() if response.status_code == 200 else {}
    return bool(body.get("data") == {"v": value} and body.get("version") == 1)


def _vault_holds(response: httpx.Response, value: str | None) -> bool:
    body = response.json()["data"] if response.status_code == 200 else {}
    return bool(body.get("data") == {"v": value} and body["metadata"]["version"] == 1)
