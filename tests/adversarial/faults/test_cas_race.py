"""Concurrent check-and-set writes (issue 5): of N writers racing with the same `cas` value,
exactly one wins; the rest get 409 with a clear JSON detail; what is stored is the winner's.

Through a real sidecar in each mode (token reuse; a child token per request), over REST with
one connection per writer, and over MCP with the official client.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import httpx
import pytest

from devkit.openbao import OpenBao
from devkit.sidecar import SidecarProcess
from tests.adversarial.faults.conftest import LONG_RUN
from tests.integration.conftest import sidecar_env
from tests.integration.mcp_helpers import IGNORE_DEPRECATION, json_of, mcp_session, text_of
from tests.integration.vault_support import key_headers, unique

MODES = {"token-reuse": "false", "child-tokens": "true"}
WRITERS = 16
ROUNDS = 25 if LONG_RUN else 3  # successive versions, each raced for
MCP_WRITERS = 8
CAS_DETAIL = "check-and-set version mismatch"


@pytest.fixture(scope="module", params=list(MODES))
def sidecar(audited_bao: OpenBao, request: pytest.FixtureRequest) -> Iterator[SidecarProcess]:
    env = sidecar_env(audited_bao, CHILD_TOKEN_ENABLED=MODES[request.param])
    with SidecarProcess(env) as process:
        yield process


async def test_one_of_many_creators_wins(sidecar: SidecarProcess) -> None:
    """`cas: 0` means "only if it does not exist": one creation, no overwrite."""
    path = f"{unique('cas')}/new"
    async with _writers(sidecar) as clients:
        answers = await _race(clients, path, cas=0)
        _assert_one_winner(answers, version=1)
        await _assert_stored(clients[0], path, answers, version=1)


async def test_one_writer_wins_each_version(sidecar: SidecarProcess) -> None:
    path = f"{unique('cas')}/contended"
    async with _writers(sidecar) as clients:
        first = await clients[0].put(f"/secrets/{path}", json={"data": {"v": "base"}, "cas": 0})
        assert first.status_code == 200, first.text
        for version in range(1, ROUNDS + 1):
            answers = await _race(clients, path, cas=version)
            _assert_one_winner(answers, version=version + 1)
            await _assert_stored(clients[0], path, answers, version=version + 1)


@pytest.mark.filterwarnings(IGNORE_DEPRECATION)
async def test_one_mcp_writer_wins(sidecar: SidecarProcess) -> None:
    path = f"{unique('cas')}/mcp"
    async with mcp_session(sidecar.url, key_headers("alice")) as session:
        created = json_of(
            await session.call_tool("write_secret", {"path": path, "data": {"v": "0"}, "cas": 0})
        )
        assert created["version"] == 1
        calls = [
            session.call_tool("write_secret", {"path": path, "data": {"v": str(i)}, "cas": 1})
            for i in range(MCP_WRITERS)
        ]
        results = await asyncio.gather(*calls)
        read = json_of(await session.call_tool("read_secret", {"path": path}))
    won = [i for i, result in enumerate(results) if not result.isError]
    assert len(won) == 1, [text_of(r) for r in results]
    lost = [text_of(r) for r in results if r.isError]
    assert all("409" in text and CAS_DETAIL in text for text in lost), lost
    assert json_of(results[won[0]])["version"] == 2
    assert (read["version"], read["data"]) == (2, {"v": str(won[0])})


@asynccontextmanager
async def _writers(sidecar: SidecarProcess) -> AsyncIterator[list[httpx.AsyncClient]]:
    """WRITERS clients of the sidecar as alice, each with its own connection."""
    clients = [
        httpx.AsyncClient(base_url=sidecar.url, headers=key_headers("alice"), timeout=20.0)
        for _ in range(WRITERS)
    ]
    try:
        # Open every connection first, so the race is between requests, not TCP handshakes.
        await asyncio.gather(*(c.get("/whoami") for c in clients))
        yield clients
    finally:
        await asyncio.gather(*(c.aclose() for c in clients))


async def _race(clients: list[httpx.AsyncClient], path: str, cas: int) -> list[httpx.Response]:
    """Every client writes its own value to `path` with the same `cas`, all at once."""
    return list(
        await asyncio.gather(
            *(
                c.put(f"/secrets/{path}", json={"data": {"writer": i}, "cas": cas})
                for i, c in enumerate(clients)
            )
        )
    )


def _assert_one_winner(answers: list[httpx.Response], version: int) -> None:
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [200] + [409] * (len(answers) - 1), [a.text for a in answers]
    for answer in answers:
        assert answer.headers["content-type"].startswith("application/json")
        if answer.status_code == 409:
            assert answer.json() == {"detail": CAS_DETAIL}
    (winner,) = (a for a in answers if a.status_code == 200)
    assert winner.json()["version"] == version


async def _assert_stored(
    client: httpx.AsyncClient, path: str, answers: list[httpx.Response], version: int
) -> None:
    """The latest version is the winner's, and no loser made a version of its own."""
    (winner,) = (i for i, a in enumerate(answers) if a.status_code == 200)
    latest = (await client.get(f"/secrets/{path}")).json()
    assert (latest["version"], latest["data"]) == (version, {"writer": winner})
    beyond = await client.get(f"/secrets/{path}", params={"version": version + 1})
    assert beyond.status_code == 404
