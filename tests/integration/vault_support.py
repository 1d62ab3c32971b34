"""Small helpers shared by the Vault-facing integration tests (no fixtures: see conftest)."""

from __future__ import annotations

import time
import urllib.error
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import httpx

from devkit.openbao import OpenBao
from devkit.sidecar import SidecarProcess
from tests.integration.conftest import API_KEYS

T = TypeVar("T")

KEY_OF = {agent: key for key, agent in API_KEYS.items()}


def key_headers(agent: str) -> dict[str, str]:
    """`X-API-Key` of one of the conftest agents (alice, bob)."""
    return {"X-API-Key": KEY_OF[agent]}


def client(sidecar: SidecarProcess, agent: str | None = None) -> httpx.Client:
    """An HTTP client for the sidecar, authenticated as `agent` if given."""
    headers = key_headers(agent) if agent else {}
    return httpx.Client(base_url=sidecar.url, headers=headers, timeout=20.0)


def unique(stem: str = "t") -> str:
    """A fresh path segment, so tests sharing one OpenBao never see each other's data."""
    return f"{stem}-{uuid.uuid4().hex[:12]}"


def vault_status(
    bao: OpenBao,
    method: str,
    path: str,
    body: dict[str, Any] | None = None,
    token: str | None = None,
) -> int:
    """The HTTP status of a direct OpenBao call (200 when it succeeds), without raising."""
    try:
        bao.api(method, path, body, token=token)
    except urllib.error.HTTPError as exc:
        return exc.code
    return 200


def audit_paths(bao: OpenBao) -> list[str]:
    """The request path of every audit entry so far (requests and responses)."""
    return [str(entry.get("request", {}).get("path", "")) for entry in bao.audit_entries()]


def eventually(attempt: Callable[[], T | None], *, timeout: float = 15.0) -> T:
    """Call `attempt` until it returns something other than None (polling, not timing)."""
    deadline = time.monotonic() + timeout
    while True:
        result = attempt()
        if result is not None:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(0.1)


@contextmanager
def running(env: dict[str, str]) -> Iterator[SidecarProcess]:
    """A sidecar with exactly `env` (for tests that must drop a variable, e.g. VAULT_TOKEN)."""
    with SidecarProcess(env) as process:
        yield process
