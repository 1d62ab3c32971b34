"""Steady concurrent load on a real sidecar that records every answer, for the fault tests.

Each worker has its own HTTP connection (its own `httpx.AsyncClient`) and runs one operation
after another until told to stop. Writes go to fresh paths with known values, so afterwards
each acknowledged write can be checked for exactly what was sent. Nothing here asserts: the
tests judge the recorded answers.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

# A guard against a hung request: the sidecar's own Vault timeout is 10 s, so anything that
# has not answered after this long is a hang, and is recorded as one (status None).
REQUEST_TIMEOUT_SECONDS = 12.0
# After a refusal a worker waits this long before its next request, so that workers spinning
# on instant 503s do not starve OpenBao's restart of CPU on a small machine. Short enough
# that the first success after recovery is seen within a twentieth of a second.
PAUSE_AFTER_FAILURE_SECONDS = 0.05


@dataclass(frozen=True, slots=True)
class Answer:
    """One request and what came back."""

    worker: int
    method: str
    path: str
    value: str | None  # the value written (writes only)
    status: int | None  # None: no HTTP answer (timeout or connection lost; see `error`)
    started: float  # time.monotonic() when sent
    ended: float  # time.monotonic() when answered
    retry_after: str | None = None
    body: Any = None
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


Operation = Callable[[httpx.AsyncClient, int, int], Awaitable[Answer]]


async def request(
    client: httpx.AsyncClient,
    worker: int,
    method: str,
    path: str,
    *,
    json: dict[str, Any] | None = None,
    value: str | None = None,
) -> Answer:
    """Send one request to the sidecar and record the answer, whatever it is."""
    started = time.monotonic()
    try:
        response = await client.request(method, path, json=json)
    except httpx.HTTPError as exc:
        return Answer(worker, method, path, value, None, started, time.monotonic(), error=repr(exc))
    ended = time.monotonic()
    try:
        body: Any = response.json()
    except ValueError:
        body = None
    retry_after = response.headers.get("retry-after")
    return Answer(
        worker, method, path, value, response.status_code, started, ended, retry_after, body
    )


def unique_writes(folder: str) -> Operation:
    """Worker `w` writes `{folder}/w{w}/{n}` = {"v": "<folder>:<w>:<n>"} for n = 0, 1, 2, ..."""

    async def write(client: httpx.AsyncClient, worker: int, n: int) -> Answer:
        path = f"{folder}/w{worker}/{n}"
        value = f"{folder}:{worker}:{n}"
        return await request(
            client, worker, "PUT", f"/secrets/{path}", json={"data": {"v": value}}, value=value
        )

    return write


def writes_and_reads(folder: str) -> Operation:
    """Like `unique_writes`, but every write is followed by a read of it: worker `w` writes
    `{folder}/w{w}/{k}` at its step 2k and reads it back at step 2k + 1 (`value` is what the
    read should return)."""
    write = unique_writes(folder)

    async def step(client: httpx.AsyncClient, worker: int, n: int) -> Answer:
        if n % 2 == 0:
            return await write(client, worker, n // 2)
        path = f"{folder}/w{worker}/{n // 2}"
        value = f"{folder}:{worker}:{n // 2}"
        return await request(client, worker, "GET", f"/secrets/{path}", value=value)

    return step


def path_of(answer: Answer) -> str:
    """The caller's relative secret path of a `/secrets/...` request."""
    return answer.path.removeprefix("/secrets/")


async def run_load(
    base_url: str,
    headers: dict[str, str],
    operation: Operation,
    stop: asyncio.Event,
    answers: list[Answer],
    *,
    workers: int = 4,
) -> None:
    """Run `workers` workers, each doing `operation` back to back, until `stop` is set.
    Every answer is appended to `answers` as it arrives, so a test can watch the load."""
    await asyncio.gather(
        *(_worker(base_url, headers, operation, stop, answers, w) for w in range(workers))
    )


async def _worker(
    base_url: str,
    headers: dict[str, str],
    operation: Operation,
    stop: asyncio.Event,
    answers: list[Answer],
    worker: int,
) -> None:
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    async with httpx.AsyncClient(
        base_url=base_url, headers=headers, timeout=REQUEST_TIMEOUT_SECONDS, limits=limits
    ) as client:
        n = 0
        while not stop.is_set():
            answer = await operation(client, worker, n)
            answers.append(answer)
            n += 1
            if not answer.ok:
                await asyncio.sleep(PAUSE_AFTER_FAILURE_SECONDS)


async def read_back(
    base_url: str, headers: dict[str, str], paths: Sequence[str], *, concurrency: int = 8
) -> dict[str, httpx.Response]:
    """GET every path (relative to `base_url`), a few at a time; path -> response."""
    gate = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(
        base_url=base_url, headers=headers, timeout=REQUEST_TIMEOUT_SECONDS
    ) as client:

        async def get(path: str) -> tuple[str, httpx.Response]:
            async with gate:
                return path, await client.get(path)

        return dict(await asyncio.gather(*(get(p) for p in paths)))
